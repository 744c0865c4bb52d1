# mailshift — build, test, demo, benchmark.
#
# Plain GNU make: the tree is small, Debian ships make everywhere, and the
# targets the README promises (demo, check, bench, fuzz) are shell steps
# around the compiler more than a build graph. See docs/architecture.md.
#
#   make            release build        -> build/release/mailshift
#   make asan       ASan+UBSan build     -> build/asan/mailshift
#   make check      deps, both builds, unit tests (both), fuzz smoke, integration
#   make fuzz       libFuzzer targets, each run for FUZZ_SECONDS (default 60)
#   make demo       deps, build, lab, sample mailbox, mailshift sync
#   make bench      mailshift vs mbsync on the lab

CC      ?= cc
B       ?= build/release
SAN     ?=
CSTD     = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
ifeq ($(SAN),1)
OPT      = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
OPT      = -O2 -g
endif
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Isrc $(CFLAGS)
LIBS     = -levent_openssl -levent_pthreads -levent_core -lcares -lpsl -lssl -lcrypto -lsqlite3 -lpthread
TEST_LIBS = -lcmocka

LIB_SRC  = $(sort $(wildcard src/core/*.c src/proto/*.c src/imap/*.c src/sync/*.c src/store/*.c src/relay/*.c src/dns/*.c))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ  = $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all asan check unit fuzz fuzz-smoke integration demo bench deps clean
.DEFAULT_GOAL := all

all: $(B)/mailshift

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/libmailshift.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/mailshift: $(CLI_OBJ) $(B)/libmailshift.a
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(B)/libmailshift.a $(LIBS) $(LDFLAGS)

$(B)/tests/%: tests/unit/%.c $(B)/libmailshift.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(B)/libmailshift.a $(TEST_LIBS) $(LIBS) $(LDFLAGS)

unit-bins: $(UNIT_BIN)

# Test drivers the integration tests run (built with the variant under test).
$(B)/smtp_send: tests/tools/smtp_send.c $(B)/libmailshift.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libmailshift.a $(LIBS) $(LDFLAGS)

$(B)/dnsq: tests/tools/dnsq.c $(B)/libmailshift.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libmailshift.a $(LIBS) $(LDFLAGS)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

asan:
	$(MAKE) B=build/asan SAN=1 all unit-bins build/asan/smtp_send build/asan/dnsq

deps:
	@scripts/deps.sh check

check: deps
	$(MAKE) all unit
	$(MAKE) B=build/asan SAN=1 all unit build/asan/smtp_send build/asan/dnsq
	$(MAKE) fuzz-smoke
	MAILSHIFT=$(CURDIR)/build/asan/mailshift SMTP_SEND=$(CURDIR)/build/asan/smtp_send \
		DNSQ=$(CURDIR)/build/asan/dnsq tests/integration/run.sh

# libFuzzer: every parser of network input has a target in tests/fuzz.
FUZZ_CC    = clang
FUZZ_FLAGS = $(CSTD) -Wall -Wextra -Werror -g -O1 -Isrc -fsanitize=fuzzer,address,undefined
FUZZ_BIN   = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60

FUZZ_OBJ   = $(LIB_SRC:%.c=build/fuzz/obj/%.o)
# The library is instrumented for coverage but has no main: -fsanitize=fuzzer-no-link.
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) -Wall -Wextra -Werror -g -O1 -Isrc \
		-fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

build/fuzz/libmailshift.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^

build/fuzz/%: tests/fuzz/%.c build/fuzz/libmailshift.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< build/fuzz/libmailshift.a $(LIBS)

fuzz-bins: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus/$$n tests/fuzz/corpus/$$n; done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=10

integration: all $(B)/smtp_send $(B)/dnsq
	MAILSHIFT=$(CURDIR)/$(B)/mailshift SMTP_SEND=$(CURDIR)/$(B)/smtp_send DNSQ=$(CURDIR)/$(B)/dnsq \
		tests/integration/run.sh

demo:
	@scripts/deps.sh demo
	$(MAKE) all
	lab/demo.sh

bench:
	@scripts/deps.sh bench
	$(MAKE) all
	bench/run.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
