// binary-hello: the B2I (binary-to-image) sample. It is not built by a builder image: a
// test compiles it with the host's Go into a static binary, e.g.
//
//	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o binary-hello .
//
// (optionally packed as binary-hello.tar.gz), and s2i-bot/binary installs that artifact.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprintf(w, "Hello from a prebuilt binary (Go %s, B2I) (s2i-bot)\n", runtime.Version())
		case "/healthz":
			fmt.Fprintln(w, "ok")
		default:
			http.NotFound(w, r)
		}
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
