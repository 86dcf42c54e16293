// go-hello: a tiny HTTP server used by s2i-bot's tests. Its greeting comes from a
// vendored (made-up, local) module, so the build proves vendor/ is used offline.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"example.com/greet"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, greet.Hello("s2i-bot"))
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
