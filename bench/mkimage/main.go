// Command mkimage writes the image the image benchmarks load, pull and save:
// three layers, about 200 MB uncompressed, as a docker-archive (what
// `docker save` writes). Content is seeded pseudo-random, so every run and
// every machine gets the same bytes and digests.
//
//	go run ./bench/mkimage -o image.tar [-ref bench/image:latest] [-mb 200]
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "docker-archive to write")
	ref := flag.String("ref", "bench/image:latest", "the image's tag in the archive")
	mb := flag.Int("mb", 200, "approximate uncompressed size in MiB")
	flag.Parse()
	if *out == "" {
		log.Fatal("mkimage: -o is required")
	}
	rng := rand.New(rand.NewSource(20261122))
	total := int64(*mb) << 20
	layers := [][]byte{
		busyboxLayer(),
		// Many small and medium files: what an application layer holds.
		filesLayer(rng, "usr/lib/app", total*45/100, 4<<10, 256<<10, true),
		// A few large, incompressible files: data, models, binaries.
		filesLayer(rng, "opt/data", total*55/100, 16<<20, 48<<20, false),
	}
	if err := writeArchive(*out, *ref, layers); err != nil {
		log.Fatal(err)
	}
	st, _ := os.Stat(*out)
	fmt.Printf("mkimage: wrote %s (%d MiB, %s)\n", *out, st.Size()>>20, *ref)
}

// writeArchive writes the classic `docker save` layout: one directory per
// layer holding an uncompressed layer.tar, the config as <digest>.json, and
// manifest.json and repositories naming them.
func writeArchive(path, ref string, layers [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	mtime := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var diffIDs, layerPaths []string
	for _, l := range layers {
		sum := sha256.Sum256(l)
		id := hex.EncodeToString(sum[:])
		diffIDs = append(diffIDs, "sha256:"+id)
		layerPaths = append(layerPaths, id+"/layer.tar")
		if err := add(id+"/layer.tar", l); err != nil {
			return err
		}
	}
	var history []map[string]any
	for i := range layers {
		history = append(history, map[string]any{"created": mtime, "created_by": fmt.Sprintf("mkimage layer %d", i+1)})
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": mtime,
		"config": map[string]any{
			"Cmd": []string{"sh"},
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
	if err != nil {
		return err
	}
	csum := sha256.Sum256(config)
	configName := hex.EncodeToString(csum[:]) + ".json"
	if err := add(configName, config); err != nil {
		return err
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{ref}, "Layers": layerPaths}})
	if err := add("manifest.json", manifest); err != nil {
		return err
	}
	repo, tag, _ := strings.Cut(ref, ":")
	last := strings.TrimSuffix(layerPaths[len(layerPaths)-1], "/layer.tar")
	repositories, _ := json.Marshal(map[string]map[string]string{repo: {tag: last}})
	if err := add("repositories", repositories); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

type tarWriter struct {
	buf bytes.Buffer
	tw  *tar.Writer
}

func newTar() *tarWriter {
	t := &tarWriter{}
	t.tw = tar.NewWriter(&t.buf)
	return t
}

func (t *tarWriter) add(h *tar.Header, data []byte) {
	h.Format = tar.FormatPAX
	h.ModTime = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	if err := t.tw.WriteHeader(h); err != nil {
		log.Fatal(err)
	}
	if _, err := t.tw.Write(data); err != nil {
		log.Fatal(err)
	}
}

func (t *tarWriter) bytes() []byte {
	if err := t.tw.Close(); err != nil {
		log.Fatal(err)
	}
	return t.buf.Bytes()
}

func busyboxLayer() []byte {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		log.Fatalf("mkimage: %v (apt-get install busybox-static)", err)
	}
	t := newTar()
	for _, d := range []string{"bin", "etc", "tmp", "usr", "usr/lib", "opt"} {
		t.add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	t.add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))}, bb)
	for _, applet := range []string{"sh", "ls", "cat", "echo", "true", "sleep", "env"} {
		t.add(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n")
	t.add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd)
	return t.bytes()
}

// filesLayer fills dir with files of sizes in [lo, hi) until about total
// bytes. Text-like content compresses as source and libraries do; random
// content does not compress at all.
func filesLayer(rng *rand.Rand, dir string, total, lo, hi int64, textLike bool) []byte {
	t := newTar()
	t.add(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	words := []string{"container", "layer", "image", "registry", "berth", "digest", "manifest", "snapshot", "runtime", "overlay"}
	for i, written := 0, int64(0); written < total; i++ {
		size := lo + rng.Int63n(hi-lo)
		if rest := total - written; size > rest {
			size = max(rest, 1)
		}
		data := make([]byte, size)
		if textLike {
			for j := 0; j < len(data); {
				w := words[rng.Intn(len(words))]
				j += copy(data[j:], w+" ")
			}
		} else {
			rng.Read(data)
		}
		sub := fmt.Sprintf("%s/d%02d", dir, i/64)
		if i%64 == 0 {
			t.add(&tar.Header{Name: sub + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
		}
		t.add(&tar.Header{Name: fmt.Sprintf("%s/f%05d", sub, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: size}, data)
		written += size
	}
	return t.bytes()
}
