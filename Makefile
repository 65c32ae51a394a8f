# Kimigayo OS — make front end. Every target is a thin call into the `kimigayo` CLI
# (crates/kimigayo-cli); run `./target/release/kimigayo --help` for the full story.
#
#   ./configure --arch=x86_64 --security-hardening=full
#   make reproducible-build     build every component (kernel included) into packages in out/repo
#   make verify-build-hash      rebuild what out/repo holds from scratch elsewhere and prove
#                               identical digests (packages, then the image's signed manifest digest)
#   make image                  the default OCI image into out/ (podman load -i out/kimigayo-os-x86_64.oci.tar);
#                               builds only the packages images/base.yaml needs
#   make vm                     the VM (kernel + initramfs) into out/, booted once under QEMU
#   make test                   the whole test suite
#   make bench                  build-time and size benchmark table
#   make clean                  remove out/ (make distclean also drops the build cache)

-include config.mk

ARCH ?= x86_64
SECURITY_HARDENING ?= full
REPRODUCIBLE_BUILD ?= yes
CROSS_COMPILE ?=
APPLETS ?=

KIMIGAYO := $(or $(CARGO_TARGET_DIR),target)/release/kimigayo
export ARCH SECURITY_HARDENING CROSS_COMPILE APPLETS

.PHONY: all setup cli reproducible-build build image vm verify-build-hash audit test bench clean distclean

all: image

setup:
	./scripts/setup.sh

cli:
	cargo build --quiet --release -p kimigayo-cli

reproducible-build build: cli
	$(KIMIGAYO) build

image: cli
	$(KIMIGAYO) build --image images/base.yaml
	$(KIMIGAYO) image build --config images/base.yaml

vm: cli
	$(KIMIGAYO) build --image images/vm.yaml linux
	$(KIMIGAYO) vm build --config images/vm.yaml
	$(KIMIGAYO) vm run --config images/vm.yaml

verify-build-hash: cli
	@test -d out/repo || $(KIMIGAYO) build --image images/base.yaml
	$(KIMIGAYO) verify
	$(KIMIGAYO) image build --config images/base.yaml
	$(KIMIGAYO) image verify --config images/base.yaml --rebuild

audit: cli
	@test -d out/repo || $(KIMIGAYO) build
	rm -rf out/audit-root && mkdir -p out/audit-root
	for f in out/repo/*/*.tar.gz; do tar -xzf "$$f" -C out/audit-root; done
	$(KIMIGAYO) audit out/audit-root --level $(SECURITY_HARDENING)

test: cli
	$(KIMIGAYO) build
	$(KIMIGAYO) verify
	cargo test --workspace --release

bench: cli
	$(KIMIGAYO) bench

clean:
	rm -rf out

distclean: clean
	$(KIMIGAYO) clean --cache 2>/dev/null || true
	rm -f config.mk
