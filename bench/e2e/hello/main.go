// Command hello is the baseline of `gpmd version`'s start-up in make
// bench-e2e: the smallest Go program that prints a line.
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
