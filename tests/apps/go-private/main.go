// go-private: a tiny HTTP server whose greeting comes from a module only a private Go
// module proxy has (tests/fakes/go_proxy.py): it builds only with the proxy's credentials.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"example.com/private/greeting"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greeting.Text)
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
