package peer_test

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/ghost-network/gpmd/gvm/peer"
)

// adder is a Handler with one function, calc.add on two integers.
type adder struct{}

func (adder) Call(ctx context.Context, c peer.Call) ([]string, error) {
	if c.Module != "calc" || c.Function != "add" || len(c.Args) != 2 {
		return nil, fmt.Errorf("no %s.%s/%d", c.Module, c.Function, len(c.Args))
	}
	a, _ := strconv.Atoi(c.Args[0])
	b, _ := strconv.Atoi(c.Args[1])
	return []string{strconv.Itoa(a + b)}, nil
}

// A node serves calls; another dials it (at the address GMP CONNECT gives)
// and calls.
func Example() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := peer.NewServer(adder{})
	go srv.Serve(l)
	defer srv.Close()

	c, err := peer.Dial(context.Background(), l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	res, err := c.Call(context.Background(), "calc.add", "", []string{"2", "3"})
	fmt.Println(res, err)
	_, err = c.Call(context.Background(), "calc.sub", "", []string{"2", "3"})
	fmt.Println(err)
	// Output:
	// [5] <nil>
	// no calc.sub/2
}
