// Package nettest gives networking tests the pieces of a small network of
// their own: subnets nobody else on the host uses (10.200.0.0/16 to
// 10.254.0.0/16), network namespaces, a "client host" and a "remote host"
// (each a namespace joined to the host by a veth pair), servers that run
// inside a namespace (an HTTP server that tells the client its address, a
// fake upstream DNS server), and a berthd whose default bridge sits on such
// a subnet.
//
// Everything is removed when the test ends (t.Cleanup): servers are closed,
// processes started in a namespace are killed by pid, links are deleted,
// namespaces unmounted. Tests never send traffic anywhere else than to
// loopback, containers, and the namespaces and subnets made here.
//
// Needs root; a missing requirement fails the test with the reason.
package nettest
