// Package dns is berth's embedded resolver for user-defined networks.
//
// One Server serves every user network of the daemon. Each network is a
// scope: the Server listens on the network's gateway address, port 53, UDP
// and TCP, in the host's network namespace (podman's aardvark-dns places it
// there too; docker's 127.0.0.11 inside each container would need a listener
// per container). The address a query arrives on decides its scope, so a
// container only ever resolves the names of the networks it is attached to.
//
// Within a scope the Server answers, with TTL 600 as docker does:
//   - A (and AAAA for IPv6 addresses) for the names registered by SetRecord:
//     container name, aliases and 12-character short id, case-insensitively,
//     with or without the trailing dot; several records sharing a name are
//     rotated round-robin;
//   - an empty NOERROR for every other type asked of one of those names (a
//     name of ours is never forwarded);
//   - PTR for the in-addr.arpa (and ip6.arpa) name of a registered address.
//
// Every other query is forwarded to the client's upstreams (SetUpstreams, by
// the client's address), else to the Server's defaults (New), else to the
// host's resolvers from /etc/resolv.conf minus loopback ones: over UDP, again
// over TCP when the answer is truncated, within a short total budget, keeping
// the client's query id. When no upstream answers the client gets SERVFAIL.
//
// Lifecycle: New; Listen per network (idempotent for the same address;
// with the Internal option for an --internal network, whose queries are
// forwarded only to upstreams inside its subnet, else REFUSED); SetRecord and
// DeleteRecord per endpoint, before or after Listen; Unlisten when the
// network goes away (its records stay until deleted, so a listener can be
// restarted); Close at daemon shutdown.
//
// Load is bounded: local answers are made on the socket's read loop,
// forwarded UDP queries share a fixed number of slots (a query that finds
// none is dropped and the client retries), and TCP connections are capped
// and time out when idle. Malformed packets are dropped or answered FORMERR;
// FuzzHandle keeps that true.
package dns
