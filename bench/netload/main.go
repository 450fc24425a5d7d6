// Command netload measures HTTP through a published port: a server to run
// in the container and a load generator to run on the host (or in a client
// namespace), for bench/network.sh.
//
//	netload serve [-addr :8080]
//	netload run -url URL [-mode keepalive|close|bulk] [-c 8] [-d 10s] [-mib 1024]
//
// The server answers GET / with six bytes and GET /bulk?mib=N with N MiB of
// zeros. The load generator prints one JSON object:
//
//   - keepalive: c clients, each on one kept-alive connection, send GET /
//     back to back for the duration: requests per second and latency
//     percentiles (the per-request cost of the forwarding path);
//   - close: the same with a new TCP connection per request (the cost of
//     connection set-up: conntrack and NAT, or a proxy's accept and dial);
//   - bulk: c clients each download /bulk?mib=M once: MiB per second (the
//     copy cost of the path).
//
// It is test tooling, not a product CLI, and is built static
// (CGO_ENABLED=0) so that it runs in a busybox container.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: netload serve|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: serve or run", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netload:", err)
		os.Exit(1)
	}
}

// zeros is what /bulk sends, 1 MiB at a time.
var zeros = make([]byte, 1<<20)

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":8080", "listen address")
	_ = fs.Parse(args)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "6")
		_, _ = w.Write([]byte("hello\n"))
	})
	mux.HandleFunc("GET /bulk", func(w http.ResponseWriter, r *http.Request) {
		mib, err := strconv.Atoi(r.URL.Query().Get("mib"))
		if err != nil || mib < 1 {
			http.Error(w, "want ?mib=N", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(mib<<20))
		for range mib {
			if _, err := w.Write(zeros); err != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// report is run's output.
type report struct {
	Mode       string  `json:"mode"`
	URL        string  `json:"url"`
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	RPS        float64 `json:"requests_per_second,omitempty"`
	P50ms      float64 `json:"p50_ms,omitempty"`
	P90ms      float64 `json:"p90_ms,omitempty"`
	P99ms      float64 `json:"p99_ms,omitempty"`
	MaxMs      float64 `json:"max_ms,omitempty"`
	Bytes      int64   `json:"bytes,omitempty"`
	MiBPerSec  float64 `json:"mib_per_second,omitempty"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "server URL, e.g. http://127.0.0.1:8080")
	mode := fs.String("mode", "keepalive", "keepalive, close or bulk")
	clients := fs.Int("c", 8, "concurrent clients")
	dur := fs.Duration("d", 10*time.Second, "duration (keepalive, close)")
	mib := fs.Int("mib", 1024, "MiB each client downloads (bulk)")
	_ = fs.Parse(args)
	if *url == "" || *clients < 1 {
		return errors.New("run needs -url and -c >= 1")
	}
	var r report
	var err error
	switch *mode {
	case "keepalive", "close":
		r, err = requests(*url, *mode == "close", *clients, *dur)
	case "bulk":
		r, err = bulk(*url, *clients, *mib)
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		return err
	}
	r.Mode, r.URL, r.Clients = *mode, *url, *clients
	return json.NewEncoder(os.Stdout).Encode(r)
}

func client(close bool, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives:   close,
			MaxIdleConnsPerHost: 1,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
	}
}

// requests sends GET / from each client back to back until the duration
// ends and collects every request's latency.
func requests(url string, close bool, clients int, dur time.Duration) (report, error) {
	var (
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(close, 10*time.Second)
			var lat []time.Duration
			n := 0
			var ferr error
			for ctx.Err() == nil {
				t0 := time.Now()
				err := get(c, url+"/")
				if err != nil {
					n++
					if ferr == nil {
						ferr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += n
			if firstErr == nil {
				firstErr = ferr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := report{Seconds: elapsed.Seconds(), Requests: len(all), Errors: errs}
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	if len(all) == 0 {
		return r, fmt.Errorf("no request succeeded: %v", firstErr)
	}
	slices.Sort(all)
	ms := func(q float64) float64 {
		return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000
	}
	r.RPS = float64(len(all)) / elapsed.Seconds()
	r.P50ms, r.P90ms, r.P99ms, r.MaxMs = ms(0.50), ms(0.90), ms(0.99), ms(1)
	return r, nil
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// bulk downloads mib MiB per client at once and measures the total rate.
func bulk(url string, clients, mib int) (report, error) {
	var (
		mu    sync.Mutex
		total int64
		errs  []error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client(true, 0).Get(fmt.Sprintf("%s/bulk?mib=%d", url, mib))
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && n != int64(mib)<<20 {
					err = fmt.Errorf("got %d bytes, want %d", n, int64(mib)<<20)
				}
			}
			mu.Lock()
			total += n
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := report{Seconds: elapsed.Seconds(), Requests: clients, Errors: len(errs), Bytes: total,
		MiBPerSec: float64(total) / (1 << 20) / elapsed.Seconds()}
	if len(errs) > 0 {
		r.FirstError = errs[0].Error()
		return r, fmt.Errorf("bulk: %w", errors.Join(errs...))
	}
	return r, nil
}
