/* SPDX-License-Identifier: MIT */
/*
 * tests/node_peer -- the other process of tests/check_node: a node with one
 * actor registered under a name.
 *
 *   node_peer URLS NAME GROUP|- HEARTBEAT
 *
 * Prints "READY <node id>" once registered. The actor answers by tag:
 * 1 echo the bytes back; 2 count a sequence number (4 bytes, < 4096);
 * 3 answer "bye" and end normally; 4 answer the count as text; 5 answer
 * the 512-byte bitmap of the sequence numbers seen; 7 answer, then end
 * failing with AX_EPIPE; 8 answer the count and end. READY comes after a
 * round trip to its own name, so the server has its interest by then. Exit status 0 after a clean close.
 *
 * With GROUP "spawn" the actor under NAME is a spawner instead: an
 * AX_MSG_NODE_SPAWN ask starts a worker registered as NAME.w<k> (k = 1,
 * 2, ...) and answers that name; its workers also end on
 * AX_MSG_NODE_STOP; tag 3 to the spawner ends the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <axon.h>
#include <axon/node.h>

static const char *urls, *name, *group;
static double heartbeat;
static ax_node *node;
static ax_future *done;
static bool spawn_mode;

static void *worker(void *arg)
{
    static unsigned char seen[512];
    unsigned count = 0;
    ax_msg m;
    void *end = NULL;

    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        ax_node_msg *nm = m.data;
        char txt[32];
        unsigned seq;
        bool stop = false;

        switch (nm->tag) {
        case 1:
            ax_node_reply(nm, nm->data, nm->len);
            break;
        case 2:
            if (nm->len == 4) {
                memcpy(&seq, nm->data, 4);
                if (seq < 4096)
                    seen[seq / 8] |= (unsigned char)(1u << (seq % 8));
            }
            count++;
            break;
        case 3:
            ax_node_reply(nm, "bye", 3);
            stop = true;
            break;
        case 4:
            snprintf(txt, sizeof txt, "%u", count);
            ax_node_reply(nm, txt, strlen(txt));
            break;
        case 5:
            ax_node_reply(nm, seen, sizeof seen);
            break;
        case 8:
            snprintf(txt, sizeof txt, "%u", count);
            ax_node_reply(nm, txt, strlen(txt));
            stop = true;
            break;
        case 7:
            ax_node_reply(nm, "failing", 7);
            stop = true;
            end = ax_task_fail(AX_EPIPE);
            break;
        case AX_MSG_NODE_STOP:
            stop = true;
            break;
        default:
            break;
        }
        ax_node_msg_free(nm);
        if (stop)
            break;
    }
    if (!spawn_mode)
        ax_future_set_result(done, NULL);
    return end;
}

static void *spawner(void *arg)
{
    ax_msg m;
    unsigned k = 0;

    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        ax_node_msg *nm = m.data;
        char wname[160];
        ax_actor_ref w;
        bool stop = nm->tag == 3;

        if (stop) {
            ax_node_reply(nm, "bye", 3);
        } else if (nm->tag == 1) {
            ax_node_reply(nm, nm->data, nm->len);
        } else if (nm->tag == AX_MSG_NODE_SPAWN) {
            snprintf(wname, sizeof wname, "%s.w%u", name, ++k);
            if (ax_actor_spawn(&w, worker, NULL, NULL) == 0 &&
                ax_node_register(node, wname, w, NULL) == 0)
                ax_node_reply(nm, wname, strlen(wname));
            else
                ax_node_reply_error(nm, AX_ENOMEM);
        }
        ax_node_msg_free(nm);
        if (stop)
            break;
    }
    ax_future_set_result(done, NULL);
    return NULL;
}

static void *main_task(void *arg)
{
    ax_node_opts o;
    ax_actor_ref w;
    int rc;

    (void)arg;
    memset(&o, 0, sizeof o);
    o.heartbeat = heartbeat;
    o.max_reconnect = -1;
    o.reconnect_wait = 0.1;
    if ((rc = ax_node_connect(&node, urls, &o)) != 0) {
        fprintf(stderr, "node_peer: connect: %s\n", ax_err_name(rc));
        return ax_task_fail(rc);
    }
    ax_future_new(&done);
    ax_actor_spawn(&w, spawn_mode ? spawner : worker, NULL, NULL);
    if ((rc = ax_node_register(node, name, w, group)) != 0) {
        fprintf(stderr, "node_peer: register: %s\n", ax_err_name(rc));
        return ax_task_fail(rc);
    }
    if ((rc = ax_node_call(node, name, 1, "x", 1, 10, NULL)) != 0) {
        fprintf(stderr, "node_peer: self call: %s\n", ax_err_name(rc));
        return ax_task_fail(rc);
    }
    printf("READY %s\n", ax_node_id(node));
    fflush(stdout);
    ax_await_future(done, NULL);
    ax_future_free(done);
    rc = ax_node_close(node);
    return rc ? ax_task_fail(rc) : NULL;
}

int main(int argc, char **argv)
{
    ax_opts o;
    int rc;

    if (argc != 5) {
        fprintf(stderr, "usage: node_peer URLS NAME GROUP|- HEARTBEAT\n");
        return 2;
    }
    urls = argv[1];
    name = argv[2];
    group = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
    spawn_mode = group && strcmp(group, "spawn") == 0;
    if (spawn_mode)
        group = NULL;
    heartbeat = atof(argv[4]);
    memset(&o, 0, sizeof o);
    rc = ax_run_with(&o, main_task, NULL, NULL);
    if (rc)
        fprintf(stderr, "node_peer: %s\n", ax_err_name(rc));
    return rc ? 1 : 0;
}
