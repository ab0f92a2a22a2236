// SPDX-License-Identifier: MIT
//
// The Go peers of bench/idle.sh, standard library only:
//
//	axbench-go-http hello PORT   net/http answering every request with
//	                             "Hello, World!" (text/plain), as
//	                             examples/servers/http-hello does
//	axbench-go-http chat PORT [ANNOUNCE_MAX]
//	                             the line chat of examples/servers/chat in
//	                             its usual Go form: a reader goroutine per
//	                             connection (bufio.Reader), a writer
//	                             goroutine per member fed by a channel of 64
//	                             lines (bufio.Writer), and one room goroutine
//	                             that owns the member list and broadcasts
//	                             without waiting (a member whose channel is
//	                             full is dropped); joins are announced
//	                             while at most ANNOUNCE_MAX (1000) are in
//
// Both listen on 127.0.0.1:PORT, print "listening on 127.0.0.1:PORT" and
// serve until killed. Keep-alive connections are closed after 10 minutes
// idle (IdleTimeout), as bench/idle.sh configures the other servers.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func hello(ln net.Listener) error {
	body := []byte("Hello, World!")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	srv := &http.Server{Handler: h, IdleTimeout: 10 * time.Minute}
	return srv.Serve(ln)
}

// ---- chat -------------------------------------------------------------------

const (
	mailbox = 64
	nameMax = 24
)

var announceMax = 1000

type member struct {
	name string
	out  chan string
}

type req struct {
	kind  int // join, say, nick, who, leave
	m     *member
	arg   string
	reply chan string // join/nick: "" = taken; who: the list
}

const (
	rJoin = iota
	rSay
	rNick
	rWho
	rLeave
)

func room(in chan req) {
	members := map[*member]bool{}
	names := map[string]*member{}
	drop := func(m *member) {
		if members[m] {
			delete(members, m)
			delete(names, m.name)
			close(m.out)
		}
	}
	broadcast := func(line string) {
		for m := range members {
			select {
			case m.out <- line:
			default:
				drop(m) // too slow
			}
		}
	}
	for r := range in {
		switch r.kind {
		case rJoin:
			if names[r.arg] != nil {
				r.reply <- ""
				continue
			}
			r.m.name = r.arg
			members[r.m] = true
			names[r.arg] = r.m
			r.reply <- "ok"
			if len(members) <= announceMax {
				broadcast(fmt.Sprintf("* %s joined (%d online)\n", r.arg, len(members)))
			}
		case rSay:
			if members[r.m] {
				broadcast(fmt.Sprintf("%s: %s\n", r.m.name, r.arg))
			}
			r.reply <- ""
		case rNick:
			if names[r.arg] != nil || !members[r.m] {
				r.reply <- ""
				continue
			}
			old := r.m.name
			delete(names, old)
			r.m.name = r.arg
			names[r.arg] = r.m
			r.reply <- "ok"
			broadcast(fmt.Sprintf("* %s is now known as %s\n", old, r.arg))
		case rWho:
			var b strings.Builder
			fmt.Fprintf(&b, "* %d online:", len(members))
			i := 0
			for m := range members {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(" " + m.name)
				i++
			}
			b.WriteString("\n")
			r.reply <- b.String()
		case rLeave:
			if members[r.m] {
				drop(r.m)
				if len(members) < announceMax {
					broadcast(fmt.Sprintf("* %s left\n", r.m.name))
				}
			}
		}
	}
}

func cleanName(s string) string {
	s = strings.TrimLeft(s, " \t")
	if len(s) > nameMax {
		s = s[:nameMax]
	}
	for _, c := range []byte(s) {
		if c < 32 || c == 127 {
			return ""
		}
	}
	s = strings.TrimRight(strings.NewReplacer(" ", "_", "\t", "_").Replace(s), "_")
	if s == "" || s[0] == '/' || s[0] == '*' {
		return ""
	}
	return s
}

func writer(c net.Conn, out chan string) {
	w := bufio.NewWriter(c)
	for line := range out {
		w.WriteString(line)
		for more := true; more; {
			select {
			case l, ok := <-out:
				if !ok {
					more = false
					out = nil
					break
				}
				w.WriteString(l)
			default:
				more = false
			}
		}
		if w.Flush() != nil || out == nil {
			break
		}
	}
	c.Close()
}

func chatConn(c net.Conn, in chan req) {
	m := &member{out: make(chan string, mailbox)}
	go writer(c, m.out)
	r := bufio.NewReader(c)
	reply := make(chan string, 1)
	ask := func(kind int, arg string) string {
		in <- req{kind, m, arg, reply}
		return <-reply
	}
	tell := func(s string) {
		select {
		case m.out <- s:
		default:
		}
	}
	joined := false
	tell("* welcome! what is your name?\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimRight(line, "\r\n")
		if !joined {
			name := cleanName(line)
			if name == "" {
				tell("* please send a name (up to 24 characters)\n")
			} else if ask(rJoin, name) == "" {
				tell("* that name is taken, try another\n")
			} else {
				joined = true
			}
			continue
		}
		switch {
		case line == "":
		case line == "/quit":
			tell("* bye\n")
			in <- req{rLeave, m, "", nil}
			return
		case line == "/who":
			tell(ask(rWho, ""))
		case strings.HasPrefix(line, "/nick ") || line == "/nick":
			name := cleanName(strings.TrimPrefix(line, "/nick"))
			if name == "" {
				tell("* usage: /nick NAME\n")
			} else if ask(rNick, name) == "" {
				tell("* that name is taken\n")
			}
		case line[0] == '/':
			tell("* commands: /nick NAME, /who, /quit\n")
		default:
			ask(rSay, line)
		}
	}
	if joined {
		in <- req{rLeave, m, "", nil}
	} else {
		close(m.out)
	}
}

func chat(ln net.Listener) error {
	in := make(chan req, 1024)
	go room(in)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go chatConn(c, in)
	}
}

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 || (os.Args[1] != "hello" && os.Args[1] != "chat") {
		fmt.Fprintln(os.Stderr, "usage: axbench-go-http hello|chat PORT [ANNOUNCE_MAX]")
		os.Exit(2)
	}
	if len(os.Args) == 4 {
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 0 {
			fmt.Fprintln(os.Stderr, "ANNOUNCE_MAX: a count")
			os.Exit(2)
		}
		announceMax = n
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	os.Stdout.Sync()
	if os.Args[1] == "hello" {
		err = hello(ln)
	} else {
		err = chat(ln)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
