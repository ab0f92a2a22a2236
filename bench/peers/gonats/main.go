// SPDX-License-Identifier: MIT

// Go peer of bench/nats_ask: remote request/reply round trips through one
// nats-server with the official Go client (github.com/nats-io/nats.go),
// the same workload as axon's and raw libnats' rows: one connection, a
// subscription on "bench.echo" that answers every request with its
// payload, and one requester at a time (nc.Request), 16-byte payloads,
// 1000 round trips of warm-up, then N measured.
//
//	axbench-go-nats [URL|-] [N]
//
// Without a URL (or with "-") it starts nats-server on a free loopback
// port and kills it at the end.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

func startServer() (string, *exec.Cmd) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "axbench-go-nats: free port:", err)
		os.Exit(1)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("nats-server", "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		cmd = exec.Command("/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", strconv.Itoa(port))
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "axbench-go-nats: nats-server:", err,
				"(apt-get install nats-server, or pass a URL)")
			os.Exit(1)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "nats://" + addr, cmd
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	fmt.Fprintln(os.Stderr, "axbench-go-nats: nats-server did not start")
	os.Exit(1)
	return "", nil
}

func main() {
	url := ""
	n := 20000
	if len(os.Args) > 1 && os.Args[1] != "-" {
		url = os.Args[1]
	}
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if n < 1000 {
		n = 1000
	}
	var server *exec.Cmd
	if url == "" {
		url, server = startServer()
		defer func() { server.Process.Kill(); server.Wait() }()
	}
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "axbench-go-nats: connect:", err)
		os.Exit(1)
	}
	defer nc.Close()
	if _, err := nc.Subscribe("bench.echo", func(m *nats.Msg) {
		m.Respond(m.Data)
	}); err != nil {
		fmt.Fprintln(os.Stderr, "axbench-go-nats: subscribe:", err)
		os.Exit(1)
	}
	nc.Flush()
	payload := []byte("0123456789abcde\x00")
	lat := make([]int64, n)
	var t0 time.Time
	for i := -1000; i < n; i++ {
		t := time.Now()
		r, err := nc.Request("bench.echo", payload, 5*time.Second)
		if err != nil || len(r.Data) != len(payload) {
			fmt.Fprintln(os.Stderr, "axbench-go-nats: request failed:", err)
			os.Exit(1)
		}
		if i == 0 {
			t0 = t
		}
		if i >= 0 {
			lat[i] = int64(time.Since(t))
		}
	}
	total := time.Since(t0)
	rps := float64(n) / total.Seconds()
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	us := func(q int) float64 { return float64(lat[q]) / 1e3 }
	fmt.Printf("%-10s %9.0f round-trips/s  p50 %6.1f us  p90 %6.1f us  "+
		"p99 %6.1f us  p99.9 %6.1f us\n", "go-nats", rps, us(n/2),
		us(n*9/10), us(n*99/100), us(n*999/1000))
	fmt.Printf("RESULT nats_ask go-nats %.6g round-trips/s higher\n", rps)
	fmt.Printf("RESULT nats_ask_p99 go-nats %.6g us lower\n", us(n*99/100))
}
