// Package greet is a made-up module that only exists vendored in go-hello.
package greet

// Hello returns the greeting go-hello serves.
func Hello(name string) string {
	return "Hello, " + name + "! (greeting from vendored example.com/greet v0.1.0)"
}
