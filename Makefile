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
#   make fuzz                   every parser fuzz target for FUZZ_SECONDS (default 60) each
#                               (cargo-fuzz on the nightly toolchain; not part of make test)
#   make clean                  remove out/ (make distclean also drops the build cache)

-include config.mk

ARCH ?= x86_64
SECURITY_HARDENING ?= full
REPRODUCIBLE_BUILD ?= yes
CROSS_COMPILE ?=
APPLETS ?=

KIMIGAYO := $(or $(CARGO_TARGET_DIR),target)/release/kimigayo
export ARCH SECURITY_HARDENING CROSS_COMPILE APPLETS

.PHONY: all setup cli reproducible-build build image vm verify-build-hash audit test bench fuzz clean distclean

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

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := recipe_toml image_spec_yaml confd_vars package_archive index_json openpgp_input init_script_meta journal_json oci_archive
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && cargo +nightly fuzz build -O
	mkdir -p out
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		if [ -d seeds/$$t ]; then mkdir -p corpus/$$t && cp seeds/$$t/* corpus/$$t/; fi; \
		cargo +nightly fuzz run -O $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 > ../out/fuzz-$$t.log 2>&1; rc=$$?; \
		grep -E "^Done|SUMMARY" ../out/fuzz-$$t.log | sed "s/^/$$t: /"; \
		[ $$rc -eq 0 ] || { echo "fuzz: $$t found a crash: see out/fuzz-$$t.log and fuzz/artifacts/$$t"; exit 1; }; \
	done

clean:
	rm -rf out

distclean: clean
	$(KIMIGAYO) clean --cache 2>/dev/null || true
	rm -f config.mk
