package opts

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadKVFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "env")
	content := "\xEF\xBB\xBFFIRST=1\n# comment\n\n   INDENTED=keep trailing  \nLOOKED\nMISSING\nEMPTY=\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) {
		if k == "LOOKED" {
			return "up", true
		}
		return "", false
	}
	got, err := ReadKVFiles([]string{p}, []string{"CLI=x"}, lookup)
	want := []string{"FIRST=1", "INDENTED=keep trailing  ", "LOOKED=up", "EMPTY=", "CLI=x"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("MY VAR=1\n"), 0o600)
	if _, err := ReadKVFiles([]string{bad}, nil, nil); err == nil {
		t.Error("a name with a blank was accepted")
	}
	if _, err := ReadKVFiles([]string{filepath.Join(dir, "none")}, nil, nil); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	var b Bytes
	if err := b.Set("512m"); err != nil || b.Value() != 512<<20 {
		t.Errorf("Bytes: %d %v", b.Value(), err)
	}
	if err := b.Set("lots"); err == nil {
		t.Error("Bytes accepted junk")
	}
	var s SwapBytes
	if err := s.Set("-1"); err != nil || s.Value() != -1 {
		t.Errorf("SwapBytes -1: %d %v", s.Value(), err)
	}
	var c NanoCPUs
	if err := c.Set("1.5"); err != nil || c.Value() != 1_500_000_000 {
		t.Errorf("NanoCPUs: %d %v", c.Value(), err)
	}
	if err := c.Set("0.0000000001"); err == nil {
		t.Error("NanoCPUs accepted a value too precise")
	}
	u := NewUlimits()
	u.Set("nofile=1024:2048")
	u.Set("nproc=10")
	u.Set("nofile=10:20")
	if l := u.List(); len(l) != 2 || l[0].Name != "nofile" || l[0].Soft != 10 || l[1].Name != "nproc" {
		t.Errorf("Ulimits: %+v", l)
	}
	f := NewFilter()
	if err := f.Set("Label=a=b"); err != nil || !f.Filters()["label"]["a=b"] {
		t.Errorf("Filter: %v %v", f.Filters(), err)
	}
	if err := f.Set("novalue"); err == nil {
		t.Error("Filter accepted a term without =")
	}
	l := NewList(ValidateLabel)
	if err := l.Set("=x"); err == nil {
		t.Error("an empty label name was accepted")
	}
	if _, err := ValidateSysctl("kernel.hostname=x"); err == nil {
		t.Error("a non-namespaced sysctl was accepted")
	}
	if v, err := ValidateAttach("STDOUT"); err != nil || v != "stdout" {
		t.Errorf("attach: %q %v", v, err)
	}
	if _, err := ValidateDeviceCgroupRule("c 1:3 rwm"); err != nil {
		t.Error(err)
	}
}

func TestMounts(t *testing.T) {
	t.Parallel()
	var m Mounts
	if err := m.Set("type=tmpfs,dst=/run,tmpfs-size=1m"); err != nil {
		t.Fatal(err)
	}
	if v := m.Values(); len(v) != 1 || v[0].Target != "/run" || v[0].TmpfsOptions.SizeBytes != 1<<20 {
		t.Errorf("%+v", v)
	}
	for _, bad := range []string{
		"", "type=tmpfs,tmpfs-size=lots", "type=bind,volume-nocopy", "type=volume,bind-propagation=rslave",
		"type=bind,bind-recursive=readonly", "bogus=1", "target", "type=bind, target=/x", "readonly=maybe",
	} {
		if err := m.Set(bad); err == nil {
			t.Errorf("--mount %q accepted", bad)
		}
	}
}
