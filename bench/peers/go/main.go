// SPDX-License-Identifier: MIT
// Go peer of axon's benchmarks (bench/*.c). One binary, one workload per
// run: `axbench-go <workload> [--quick]`. It prints
//
//	RESULT <workload> <system> <value> <unit> <better>
//
// where <system> is "go-gomaxprocs1" when GOMAXPROCS is 1 and "go"
// otherwise (run.sh runs the binary once each way), plus INFO lines with
// the details. Times are wall time (time.Now, monotonic) around the
// measured part only, as in axon's programs. Exit 1 (and WRONG on stdout)
// if a checked answer is wrong.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var system = "go"
var quick bool

func result(workload string, value float64, unit, better string) {
	prec := 6
	if value >= 100 {
		prec = 1
	}
	fmt.Printf("RESULT %s %s %.*f %s %s\n", workload, system, prec, value, unit, better)
}

func info(format string, a ...interface{}) {
	fmt.Printf("INFO "+format+"\n", a...)
}

func wrong(format string, a ...interface{}) {
	fmt.Printf("WRONG "+format+"\n", a...)
	os.Exit(1)
}

func size(full, q uint64) uint64 {
	if quick {
		return q
	}
	return full
}

// ctxswitch: two goroutines call runtime.Gosched() in turn, count/2 times
// each (axon: two tasks calling ax_yield()). With GOMAXPROCS=1 every
// Gosched hands the one P to the other goroutine: one yield = one switch.
func ctxswitch() {
	count := size(10000000, 1000000)
	per := count / 2
	var wg sync.WaitGroup
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func() {
			for i := uint64(0); i < per; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	yields := 2 * per
	info("ctxswitch: runtime.Gosched ping-pong, 2 goroutines, %d yields, %.3f s, GOMAXPROCS=%d",
		yields, d.Seconds(), runtime.GOMAXPROCS(0))
	result("ctxswitch", float64(d.Nanoseconds())/float64(yields), "ns/switch", "lower")
}

// spawn_join: serial; spawn one goroutine that returns its argument
// through a 1-slot channel, receive it, check it, repeat (axon: spawn,
// ax_await, repeat).
func spawnJoin() {
	n := size(1000000, 100000)
	ch := make(chan uint64, 1)
	t0 := time.Now()
	for i := uint64(1); i <= n; i++ {
		go func(v uint64) { ch <- v }(i)
		if v := <-ch; v != i {
			wrong("spawn_join: got %d want %d", v, i)
		}
	}
	d := time.Since(t0)
	info("spawn_join: %d goroutines, serial spawn+receive, %.3f s", n, d.Seconds())
	result("spawn_join", float64(d.Nanoseconds())/float64(n), "ns/task", "lower")
}

func statusKiB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key) {
			fs := strings.Fields(line[len(key):])
			if len(fs) > 0 {
				v, _ := strconv.ParseInt(fs[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

// parked_memory: 100,000 goroutines each time.Sleep(1 h) (axon: tasks in
// ax_sleep(3600)); VmRSS growth per goroutine once every one is asleep.
func parked() {
	n := size(100000, 20000)
	var started sync.WaitGroup
	started.Add(int(n))
	runtime.GC()
	debug.FreeOSMemory()
	rss0, vsz0 := statusKiB("VmRSS:"), statusKiB("VmSize:")
	t0 := time.Now()
	for i := uint64(0); i < n; i++ {
		go func() {
			started.Done()
			time.Sleep(time.Hour)
		}()
	}
	started.Wait()
	d := time.Since(t0)
	// Done() runs just before Sleep: give the last ones time to park.
	time.Sleep(50 * time.Millisecond)
	rss1, vsz1 := statusKiB("VmRSS:"), statusKiB("VmSize:")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	info("parked_memory: %d goroutines asleep (NumGoroutine %d) in %.3f s; VmRSS %d -> %d KiB, VmSize %d -> %d KiB (%.0f B/task); StackInuse %d KiB",
		n, runtime.NumGoroutine(), d.Seconds(), rss0, rss1, vsz0, vsz1,
		float64(vsz1-vsz0)*1024/float64(n), ms.StackInuse/1024)
	result("parked_memory", float64(rss1-rss0)*1024/float64(n), "bytes/task", "lower")
}

// pingpong: two goroutines, two unbuffered channels; the pinger sends a
// PING and waits for the PONG, n times (axon: two actors, ax_send and
// ax_recv). Same program for both workloads; "same" is meant for
// GOMAXPROCS=1, "cross" for the default (Go cannot place a goroutine on a
// thread; the scheduler decides).
func pingpong(workload string) {
	var n uint64
	if workload == "pingpong_same" {
		n = size(2000000, 100000)
	} else {
		n = size(500000, 25000)
	}
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	// handshake, untimed
	ping <- 0
	<-pong
	t0 := time.Now()
	for i := uint64(0); i < n; i++ {
		ping <- 1
		<-pong
	}
	d := time.Since(t0)
	close(ping)
	info("%s: %d round trips, %.3f s, %.1f ns/round trip, GOMAXPROCS=%d",
		workload, n, d.Seconds(), float64(d.Nanoseconds())/float64(n), runtime.GOMAXPROCS(0))
	result(workload, float64(n)/d.Seconds(), "round-trips/s", "higher")
}

// ring: 503 goroutines in a ring of unbuffered channels pass a token
// decremented at each hop; timed from the first send until the goroutine
// that receives 0 reports (axon: 503 actors, same rule).
func ring() {
	const N = 503
	hops := size(10000000, 200000)
	chans := make([]chan uint64, N)
	for i := range chans {
		chans[i] = make(chan uint64)
	}
	done := make(chan time.Time, 1)
	for i := 0; i < N; i++ {
		go func(in, out chan uint64) {
			for t := range in {
				if t == 0 {
					done <- time.Now()
					continue
				}
				out <- t - 1
			}
		}(chans[i], chans[(i+1)%N])
	}
	t0 := time.Now()
	chans[0] <- hops
	t1 := <-done
	d := t1.Sub(t0)
	info("ring: %d goroutines, %d hops, %.3f s, %.1f ns/hop", N, hops, d.Seconds(),
		float64(d.Nanoseconds())/float64(hops))
	result("ring", float64(hops)/d.Seconds(), "hops/s", "higher")
}

// skynet, the classic Go form (github.com/atemerev/skynet): every inner
// goroutine starts its 10 children at once and sums what they send back.
func skynetConc(c chan<- uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64, 10)
	step := size / 10
	for i := uint64(0); i < 10; i++ {
		go skynetConc(rc, num+i*step, step)
	}
	var sum uint64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

// Depth-first (the skynet_dfs row): start one child, wait for it, next.
func skynetDFS(c chan<- uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64, 1)
	step := size / 10
	var sum uint64
	for i := uint64(0); i < 10; i++ {
		go skynetDFS(rc, num+i*step, step)
		sum += <-rc
	}
	c <- sum
}

// Both forms, as axon's: the classic concurrent form is the skynet row,
// the depth-first form the skynet_dfs row.
func skynet() {
	const leaves = 1000000
	const want = uint64(499999500000)
	c := make(chan uint64, 1)
	t0 := time.Now()
	go skynetConc(c, 0, leaves)
	sum := <-c
	dConc := time.Since(t0)
	if sum != want {
		wrong("skynet (concurrent): sum %d want %d", sum, want)
	}
	runtime.GC()
	t0 = time.Now()
	go skynetDFS(c, 0, leaves)
	sum = <-c
	d := time.Since(t0)
	if sum != want {
		wrong("skynet: sum %d want %d", sum, want)
	}
	info("skynet: 1111111 goroutines, sum %d; concurrent (classic, skynet) %.3f s; depth-first (skynet_dfs) %.3f s",
		sum, dConc.Seconds(), d.Seconds())
	result("skynet", dConc.Seconds(), "s", "lower")
	result("skynet_dfs", d.Seconds(), "s", "lower")
}

// gather_fanout: 100,000 goroutines each sleep 1 ms and return their
// index; wait for all (WaitGroup) and check the sum.
func gatherFanout() {
	n := uint64(100000)
	res := make([]uint64, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func(i uint64) {
			time.Sleep(time.Millisecond)
			res[i] = i
			wg.Done()
		}(i)
	}
	wg.Wait()
	var sum uint64
	for _, v := range res {
		sum += v
	}
	d := time.Since(t0)
	if want := n * (n - 1) / 2; sum != want {
		wrong("gather_fanout: sum %d want %d", sum, want)
	}
	info("gather_fanout: %d goroutines x 1 ms sleep, sum %d, %.3f s", n, sum, d.Seconds())
	result("gather_fanout", d.Seconds(), "s", "lower")
}

// fanin: one receiver goroutine on a channel of capacity 1024 (axon's
// mailbox bound); max(2, GOMAXPROCS) x 8 sender goroutines flood it.
// Timed from starting the senders until the receiver has the last one.
func fanin() {
	total := size(4000000, 400000)
	p := runtime.GOMAXPROCS(0)
	if p < 2 {
		p = 2
	}
	senders := uint64(p * 8)
	per := total / senders
	total = per * senders
	ch := make(chan uint64, 1024)
	done := make(chan uint64)
	go func() {
		var got, sum uint64
		for got < total {
			sum += <-ch
			got++
		}
		done <- sum
	}()
	t0 := time.Now()
	for s := uint64(0); s < senders; s++ {
		go func() {
			for i := uint64(0); i < per; i++ {
				ch <- 1
			}
		}()
	}
	sum := <-done
	d := time.Since(t0)
	if sum != total {
		wrong("fanin: got %d want %d", sum, total)
	}
	info("fanin: %d senders x %d msgs into a chan of 1024, %.3f s, GOMAXPROCS=%d",
		senders, per, d.Seconds(), runtime.GOMAXPROCS(0))
	result("fanin", float64(total)/d.Seconds(), "msgs/s", "higher")
}

// queue: one producer and one consumer goroutine through a buffered
// channel of capacity 128 (axon: an ax_queue of capacity 128). With
// GOMAXPROCS=1 both share one P (axon's queue_same, one loop); with the
// default the runtime may run them on two threads (axon's queue_cross,
// producer and consumer on two loops). Timed from starting both until
// the consumer has the last item; the sum is checked.
func queue(workload string) {
	n := size(2000000, 200000)
	ch := make(chan uint64, 128)
	done := make(chan uint64)
	t0 := time.Now()
	go func() {
		var sum uint64
		for i := uint64(0); i < n; i++ {
			sum += <-ch
		}
		done <- sum
	}()
	go func() {
		for i := uint64(1); i <= n; i++ {
			ch <- i
		}
	}()
	sum := <-done
	d := time.Since(t0)
	if sum != n*(n+1)/2 {
		wrong("%s: sum %d want %d", workload, sum, n*(n+1)/2)
	}
	info("%s: %d items through a chan of 128, %.3f s, GOMAXPROCS=%d",
		workload, n, d.Seconds(), runtime.GOMAXPROCS(0))
	result(workload, float64(n)/d.Seconds(), "items/s", "higher")
}

// selectQueues: 4 producer goroutines, each feeding its own channel of
// capacity 128; one consumer selects over the 4 (axon: ax_wait_any over
// a get future of each of 4 ax_queues).
func selectQueues() {
	const k = 4
	per := size(2000000, 200000) / k
	var chs [k]chan uint64
	for i := range chs {
		chs[i] = make(chan uint64, 128)
	}
	t0 := time.Now()
	for i := 0; i < k; i++ {
		go func(c chan uint64) {
			for v := uint64(1); v <= per; v++ {
				c <- v
			}
		}(chs[i])
	}
	var sum uint64
	for got := uint64(0); got < per*k; got++ {
		select {
		case v := <-chs[0]:
			sum += v
		case v := <-chs[1]:
			sum += v
		case v := <-chs[2]:
			sum += v
		case v := <-chs[3]:
			sum += v
		}
	}
	d := time.Since(t0)
	if sum != k*(per*(per+1)/2) {
		wrong("select: sum %d", sum)
	}
	info("select: %d producers x %d items, one consumer selecting, %.3f s, GOMAXPROCS=%d",
		k, per, d.Seconds(), runtime.GOMAXPROCS(0))
	result("select", float64(per*k)/d.Seconds(), "items/s", "higher")
}

// lock_uncontended: sync.Mutex Lock+Unlock with nobody else (axon:
// ax_lock_acquire + ax_lock_release on a free lock).
func lockUncontended() {
	n := size(10000000, 1000000)
	var mu sync.Mutex
	x := 0
	t0 := time.Now()
	for i := uint64(0); i < n; i++ {
		mu.Lock()
		x++
		mu.Unlock()
	}
	d := time.Since(t0)
	if x != int(n) {
		wrong("lock_uncontended: %d", x)
	}
	info("lock_uncontended: %d pairs, %.3f s", n, d.Seconds())
	result("lock_uncontended", float64(d.Nanoseconds())/float64(n), "ns/op", "lower")
}

// lock_handoff: two goroutines pass a lock back and forth: each takes
// it, yields while holding it (so the other queues on it) and releases it.
// The lock is a channel of capacity 1 used as a semaphore, Go's FIFO
// hand-over lock: a release completes the oldest blocked acquire directly.
// sync.Mutex is not used here because it does not hand over: a releaser
// takes it straight back (barging) until starvation mode (1 ms) forces a
// hand-off, so its figure would be ~1 ms per owner change. The owner
// changes are counted; the figure is the time divided by them.
func lockHandoff() {
	n := size(1000000, 100000)
	sem := make(chan struct{}, 1)
	var wg sync.WaitGroup
	last, changes := -1, uint64(0)
	per := n / 2
	t0 := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			for i := uint64(0); i < per; i++ {
				sem <- struct{}{}
				if last != id {
					changes++
					last = id
				}
				runtime.Gosched()
				<-sem
			}
		}(g)
	}
	wg.Wait()
	d := time.Since(t0)
	if changes == 0 {
		wrong("lock_handoff: no handoff")
	}
	info("lock_handoff: %d acquisitions, %d owner changes, %.3f s, GOMAXPROCS=%d",
		2*per, changes, d.Seconds(), runtime.GOMAXPROCS(0))
	result("lock_handoff", float64(d.Nanoseconds())/float64(changes), "ns/handoff", "lower")
}

// udp_echo: as bench/udp_echo.c: a client sends a window of 32 datagrams
// of 64 bytes on loopback, an echo goroutine reads each and sends it back,
// the client reads the 32 replies before the next window. Go has no
// recvmmsg/sendmmsg: one system call per datagram each way.
func udpEcho() {
	const window, sz = 32, 64
	count := int(size(200000, 50000))
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		wrong("listen: %v", err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:n], from)
		}
	}()
	cl, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		wrong("dial: %v", err)
	}
	out, in := make([]byte, sz), make([]byte, 2048)
	t0 := time.Now()
	for done := 0; done < count; done += window {
		for i := 0; i < window; i++ {
			if _, err := cl.Write(out); err != nil {
				wrong("write: %v", err)
			}
		}
		for i := 0; i < window; i++ {
			cl.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := cl.Read(in); err != nil {
				wrong("read: %v", err)
			}
		}
	}
	d := time.Since(t0)
	srv.Close()
	cl.Close()
	info("udp_echo: %d datagrams of %d bytes, window %d, GOMAXPROCS=%d, %.3f s",
		count, sz, window, runtime.GOMAXPROCS(0), d.Seconds())
	result("udp_echo", float64(count)/d.Seconds(), "datagrams/s", "higher")
}

// to_thread: the peer of ax_to_thread(): a new goroutine makes one
// blocking system call (pread(2) of a byte of /dev/zero, through
// syscall.Pread, which enters the scheduler's syscall state) and sends
// the result back on a channel; the caller waits for it. Round trips/s.
func toThread() {
	n := int(size(200000, 20000))
	fd, err := syscall.Open("/dev/zero", syscall.O_RDONLY, 0)
	if err != nil {
		wrong("open /dev/zero: %v", err)
	}
	ch := make(chan int)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			var b [1]byte
			r, _ := syscall.Pread(fd, b[:], 0)
			ch <- r
		}()
		if <-ch != 1 {
			wrong("pread")
		}
	}
	d := time.Since(t0)
	syscall.Close(fd)
	info("to_thread: %d round trips, GOMAXPROCS=%d, %.3f s", n,
		runtime.GOMAXPROCS(0), d.Seconds())
	result("to_thread", float64(n)/d.Seconds(), "round-trips/s", "higher")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: axbench-go <workload> [--quick]")
		os.Exit(2)
	}
	for _, a := range os.Args[2:] {
		if a == "--quick" {
			quick = true
		} else {
			fmt.Fprintf(os.Stderr, "axbench-go: unknown argument %q\n", a)
			os.Exit(2)
		}
	}
	if runtime.GOMAXPROCS(0) == 1 {
		system = "go-gomaxprocs1"
	}
	switch w := os.Args[1]; w {
	case "ctxswitch":
		ctxswitch()
	case "spawn_join":
		spawnJoin()
	case "parked_memory":
		parked()
	case "pingpong_same", "pingpong_cross":
		pingpong(w)
	case "ring":
		ring()
	case "skynet", "skynet_dfs":
		skynet()
	case "gather_fanout":
		gatherFanout()
	case "fanin":
		fanin()
	case "queue_same", "queue_cross":
		queue(w)
	case "select":
		selectQueues()
	case "lock_uncontended":
		lockUncontended()
	case "lock_handoff":
		lockHandoff()
	case "udp_echo":
		udpEcho()
	case "to_thread":
		toThread()
	default:
		fmt.Fprintf(os.Stderr, "axbench-go: unknown workload %q\n", w)
		os.Exit(2)
	}
}
