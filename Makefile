# Azpool - reconciling controller for pools of short-lived Azure worker VMs.
#
# Every target builds into $(BUILD) (default build/). V=1 shows the commands.
# CC, CFLAGS, LDFLAGS, PREFIX and DESTDIR can be overridden.

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wvla -Wimplicit-fallthrough
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
CFLAGS   ?= -O2 -g

# Sanitizer builds (make asan): set before ALL_CFLAGS is expanded below.
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
HARDEN    := -fstack-protector-strong
CFLAGS    := -O1 -g
endif

ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) $(SAN_FLAGS) \
              -Ireconcile -Icontroller -DAZPOOL_VERSION='"$(VERSION)"' -MMD -MP
ALL_LDFLAGS := $(LDFLAGS) $(SAN_FLAGS)

ifneq ($(V),1)
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
else
Q :=
msg = @true
endif

CORE_LIBS  := -ljansson -lyaml -lm
CTL_LIBS   := -lcurl -lwebsockets -luv -lcrypto -ljansson -lyaml -lm
SIM_LIBS   := -lwebsockets -luv -lssl -lcrypto -ljansson -lm
TEST_LIBS  := -lcmocka -ljansson -lyaml -lm

CORE_SRC   := $(sort $(wildcard reconcile/*.c))
CTL_SRC    := $(sort $(wildcard controller/*.c))
CTL_LIBSRC := $(filter-out controller/main.c,$(CTL_SRC))
ARMSIM_SRC := $(sort $(wildcard hack/armsim/*.c))
ARMSIM_LIB := $(filter-out hack/armsim/main.c,$(ARMSIM_SRC))
KUBESIM_SRC := $(sort $(wildcard hack/kubesim/*.c))
SIMCOMMON_SRC := $(sort $(wildcard hack/common/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
ARMSIM_UNIT_SRC := $(sort $(wildcard tests/unit/armsim_test_*.c))
DRIVER_SRC := $(sort $(wildcard tests/cases/run_*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/bench_*.c))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
UNIT_SUPPORT := $(sort $(wildcard tests/unit/support_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBRECONCILE := $(BUILD)/libreconcile.a
LIBCTL       := $(BUILD)/libcontroller.a
LIBARMSIM    := $(BUILD)/libarmsim.a
AZPOOL       := $(BUILD)/azpool
ARMSIM       := $(BUILD)/armsim
KUBESIM      := $(BUILD)/kubesim
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ARMSIM_UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(ARMSIM_UNIT_SRC))
DRIVER_BINS  := $(patsubst tests/cases/%.c,$(BUILD)/tests/%,$(DRIVER_SRC))
BENCH_BINS   := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

PROGRAMS := $(AZPOOL) $(if $(ARMSIM_SRC),$(ARMSIM)) $(if $(KUBESIM_SRC),$(KUBESIM))
TESTBINS := $(UNIT_BINS) $(ARMSIM_UNIT_BINS) $(DRIVER_BINS)

.PHONY: all run test check asan fuzz bench install clean help deps deps-build format

# Keep objects of pattern rules (test programs) between runs.
.SECONDARY:

## all: build azpool, the test worlds and the test programs (default)
all: $(PROGRAMS) $(TESTBINS)

deps:
	$(Q)bash hack/install-deps.sh

deps-build:
	$(Q)AZPOOL_DEPS=build bash hack/install-deps.sh

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Test programs and simulators may include the core's and controller's headers
# and their own directory.
$(BUILD)/obj/tests/%.o: ALL_CFLAGS += -Itests/support -Wno-missing-prototypes
$(BUILD)/obj/hack/armsim/%.o: ALL_CFLAGS += -Ihack/armsim -Ihack/common
$(BUILD)/obj/hack/kubesim/%.o: ALL_CFLAGS += -Ihack/kubesim -Ihack/common

$(LIBRECONCILE): $(call obj,$(CORE_SRC))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBCTL): $(call obj,$(CTL_LIBSRC))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBARMSIM): $(call obj,$(ARMSIM_LIB) $(SIMCOMMON_SRC))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(AZPOOL): $(call obj,controller/main.c) $(LIBCTL) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CTL_LIBS)

$(ARMSIM): $(call obj,hack/armsim/main.c) $(LIBARMSIM) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SIM_LIBS)

$(KUBESIM): $(call obj,$(KUBESIM_SRC) $(SIMCOMMON_SRC)) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SIM_LIBS) -lyaml

$(BUILD)/tests/test_%: $(call obj,tests/unit/test_%.c) $(call obj,$(TEST_SUPPORT) $(UNIT_SUPPORT)) \
                      $(LIBCTL) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(CTL_LIBS)

$(BUILD)/tests/armsim_test_%: $(call obj,tests/unit/armsim_test_%.c) $(LIBARMSIM) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS) $(SIM_LIBS)

$(BUILD)/tests/run_%: $(call obj,tests/cases/run_%.c) $(call obj,$(TEST_SUPPORT)) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/bench/bench_%: $(call obj,tests/bench/bench_%.c) $(call obj,$(TEST_SUPPORT)) $(LIBRECONCILE)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS)

## run: install what is missing, build, start the test world and run azpool on manifests/examples/
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash hack/run-demo.sh

## test: install what is missing, build, run every test suite; last line "N passed, N failed"
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bash tests/run.sh

## check: clang-format clean, pure core (nm -u), -Werror build
check: deps-build
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bash hack/check.sh

## asan: the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=1 all
	$(Q)BUILD=build/asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 bash tests/run.sh

## fuzz: short fuzz runs of the decoders (tests/fuzz)
fuzz: deps-build
	$(Q)BUILD=$(BUILD) bash tests/fuzz/run.sh

## bench: performance figures (planner, simulators, controller)
bench: deps-build
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)BUILD=$(BUILD) bash tests/bench/run.sh

## install: install azpool (and the test worlds) into $(DESTDIR)$(PREFIX)/bin
install: all
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin
	$(Q)install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

## format: rewrite C sources with clang-format
format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

## clean: remove build/
clean:
	$(Q)rm -rf build

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
