// Package network gives containers their networking: the networks (bridge,
// host, none), their persistent records and address management (IPAM), the
// Linux bridge and veth pairs (netlink, no helper binaries), the containers'
// network namespaces (sandboxes), published ports, and it drives the
// firewall backend (package firewall) and the embedded resolver (package
// dns).
//
// Rules of the package:
//   - every host-global name (bridge, veth, nft table) starts with
//     Config.Prefix, so several daemons and tests share a host;
//   - the store is written atomically before a change is published, and
//     New plus Reconcile bring the host back to the store after a crash;
//   - Connect is on the container-start hot path: one netlink handle per
//     operation set, no polling, no sleeps, no exec;
//   - a failure half-way through an operation undoes what it did.
//
// See docs/network.md for the design.
package network
