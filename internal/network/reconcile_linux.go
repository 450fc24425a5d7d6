package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
)

// Reconcile brings the host back to the store after a daemon (re)start,
// a crash included. live maps the ids of the containers still running to
// their sandbox paths. Endpoints of other containers, and endpoints whose
// veth is gone, are released (address, ports, records); sandboxes of other
// containers are unmounted; veths on our bridges that no endpoint owns
// are deleted; then the firewall is made to hold exactly the networks and
// the kept endpoints' ports, and the resolvers their names.
func (m *Manager) Reconcile(ctx context.Context, live map[string]string) error {
	m.waitReleases()
	if m.sandboxes != nil {
		m.sandboxes.wait()
	}
	h, err := routeHandle()
	if err != nil {
		return err
	}
	defer h.Close()

	m.mu.Lock()
	var drop, keep []*epRecord
	for _, ep := range m.eps {
		if _, ok := live[ep.ContainerID]; !ok || ep.state() != epConnected {
			drop = append(drop, ep)
			continue
		}
		if _, err := h.LinkByName(ep.HostIfName); err != nil {
			// The container lives but its veth does not: a crash
			// between the record and the veth, or the link was
			// deleted behind our back. Nothing carries the address.
			drop = append(drop, ep)
			continue
		}
		keep = append(keep, ep)
	}
	m.mu.Unlock()

	var errs []error
	for _, ep := range drop {
		m.log.Info("network: releasing a stale endpoint", "container", ep.ContainerID, "network", ep.NetworkName, "address", ep.Address)
		if err := m.release(ctx, h, ep); err != nil {
			errs = append(errs, fmt.Errorf("endpoint %s: %w", ep.ID, err))
		}
	}
	if err := m.removeStaleSandboxes(live); err != nil {
		errs = append(errs, err)
	}
	if err := m.removeStrayVeths(h); err != nil {
		errs = append(errs, err)
	}

	m.mu.Lock()
	err = m.syncFirewall(ctx)
	for _, ep := range keep {
		m.rebindPorts(ep.ID)
		if n := m.nets[ep.NetworkID]; n != nil && n.rec.userNetwork() {
			m.dns.SetRecord(n.rec.ID, ep.ID, dnsRecord(ep))
			m.dns.SetUpstreams(ep.Address.Addr(), ep.Upstreams)
		}
	}
	m.mu.Unlock()
	if err != nil {
		errs = append(errs, fmt.Errorf("firewall: %w", err))
	}
	return errors.Join(errs...)
}

// removeStaleSandboxes unmounts the namespaces of containers not in live.
func (m *Manager) removeStaleSandboxes(live map[string]string) error {
	entries, err := os.ReadDir(m.cfg.ExecRoot)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		if _, ok := live[e.Name()]; ok || checkContainerID(e.Name()) != nil || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := removeNetnsFile(filepath.Join(m.cfg.ExecRoot, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeStrayVeths deletes veths enslaved to our bridges that no endpoint
// owns (their sandbox is gone or never got its record).
func (m *Manager) removeStrayVeths(h *netlink.Handle) error {
	m.mu.Lock()
	bridges := map[string]bool{}
	for _, n := range m.nets {
		if n.rec.Driver == driverBridge {
			bridges[n.rec.Bridge] = true
		}
	}
	owned := map[string]bool{}
	for _, ep := range m.eps {
		owned[ep.HostIfName] = true
	}
	m.mu.Unlock()

	links, err := dump(h.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	index := map[int]string{}
	for _, l := range links {
		index[l.Attrs().Index] = l.Attrs().Name
	}
	var errs []error
	for _, l := range links {
		a := l.Attrs()
		if l.Type() != "veth" || a.MasterIndex == 0 || !bridges[index[a.MasterIndex]] || owned[a.Name] {
			continue
		}
		if !isHostVethName(a.Name) {
			continue // not one of ours: a user may enslave their own
		}
		m.log.Info("network: deleting a stray veth", "link", a.Name, "bridge", index[a.MasterIndex])
		if err := h.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// isHostVethName says whether name has the shape of our host-side veths:
// "v" and 14 hex digits.
func isHostVethName(name string) bool {
	if len(name) != 15 || name[0] != 'v' {
		return false
	}
	for _, c := range name[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
