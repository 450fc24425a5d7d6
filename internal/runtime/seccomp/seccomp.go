// Package seccomp compiles the OCI runtime-spec's linux.seccomp into a
// classic BPF program and loads it, without libseccomp.
package seccomp
