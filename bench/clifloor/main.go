// Command clifloor is an engine that does nothing, instantly: it answers
// the five requests of `docker run --rm IMAGE CMD` (ping, create, attach,
// wait, start) on a unix socket with canned replies, so that timing the
// docker CLI against it gives the floor of that command on this host: the
// CLI's own start-up, its work between the requests and its exit. No
// engine can do the command faster through the docker CLI; bench/engine.sh
// reports the floor beside the engines' figures.
//
//	clifloor -socket PATH
//
// It is benchmark tooling, not an engine: it keeps no state and answers
// every create with the same id and every wait with exit code 0.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
)

const id = "f100r0000000000000000000000000000000000000000000000000000000000a"

func main() {
	socket := flag.String("socket", "", "unix socket to serve on")
	flag.Parse()
	if *socket == "" {
		log.Fatal("clifloor: -socket is required")
	}
	_ = os.Remove(*socket)
	l, err := net.Listen("unix", *socket)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(l, http.HandlerFunc(serve)))
}

func serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Api-Version", "1.50")
	w.Header().Set("Ostype", "linux")
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/_ping"):
		_, _ = io.WriteString(w, "OK")
	case strings.HasSuffix(path, "/containers/create"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"Id":%q,"Warnings":[]}`, id)
	case strings.HasSuffix(path, "/attach"):
		hijackAndClose(w)
	case strings.HasSuffix(path, "/wait"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"StatusCode":0}`)
	case strings.HasSuffix(path, "/start"):
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, `{"message":"clifloor answers docker run only"}`, http.StatusNotFound)
	}
}

// hijackAndClose upgrades the attach as an engine does and ends it at
// once: the container printed nothing.
func hijackAndClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	_ = buf.Flush()
}
