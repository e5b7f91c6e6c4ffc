# fastc — build, test, run.  GNU make.
#
#   make            build ./fastc (release: -O3, native CPU)
#   make deps       install the missing Debian packages (and only those)
#   make run        deps + build + get Fashion-MNIST + train configs/fashion_mnist.ini
#   make test       deps + build + every Check suite under ASan + UBSan, then release
#   make check      the Check suites only (no deps, no sanitizers)
#   make fuzz       libFuzzer on the config parser (FUZZ_TIME seconds, default 600)
#   make fuzz-safetensors  libFuzzer on the safetensors reader and JSON parser
#   make fuzz-csv   libFuzzer on the CSV reader, label names and PointsFromCSV
#   make fuzz-pth   libFuzzer on the PyTorch .pth reader (zip, pickle, views)
#   make fuzz-decode     libFuzzer on JPEG and PNG decoding (image_decode_mem)
#   make fuzz-modelfile  libFuzzer on model/state metadata, preprocessing, collab files
#   make bench      speed against PyTorch/PIL in the same run (needs python3-torch)
#   make accuracy   long training runs that report accuracy
#   make install    the binary, fastc(1) and bash completion under $(DESTDIR)$(prefix)
#                   (PREFIX=/usr/local by default; GNU's bindir, mandir, ... apply);
#                   make uninstall removes them
#
# Objects go to $(BUILD) (build/release by default); `make BUILD=build/x` keeps
# separate trees apart.

CC       ?= cc
BUILD    ?= build/release
SAN_BUILD = build/san
PKGS_RUN  = openblas libpng libjpeg inih zlib
PKGS_TEST = check

# Debian packages: the build needs these; `make deps` installs what is missing.
# Open MPI: mpi.h for src/dist (libmpi itself is loaded at run time, only
# under mpirun: dist/dist.h) and mpirun for the data-parallel tests.
DEB_BUILD = gcc make pkg-config libc6-dev libopenblas-dev libpng-dev libjpeg62-turbo-dev libinih-dev zlib1g-dev check \
            libopenmpi-dev openmpi-bin
DEB_DATA  = dataset-fashion-mnist
DEB_FUZZ  = clang libclang-rt-14-dev
DEB_BENCH = python3-torch python3-torchvision python3-pil hyperfine

OPT      ?= -O3 -march=native
WARN      = -Wall -Wextra -Wno-unused-parameter
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE $(WARN) -fopenmp -Isrc -g \
              $(shell pkg-config --cflags $(PKGS_RUN) ompi-c 2>/dev/null)
LIBS_RUN  = $(shell pkg-config --libs $(PKGS_RUN) 2>/dev/null) -lm -lpthread -ldl
LIBS_TEST = $(shell pkg-config --libs $(PKGS_TEST) 2>/dev/null)
SAN_FLAGS = -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

SRCS      := $(shell find src -name '*.c' ! -name main.c | sort)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_HELPERS := $(sort $(wildcard tests/helpers/*.c))

objs = $(patsubst src/%.c,$(1)/obj/%.o,$(SRCS))
tests_of = $(patsubst tests/%.c,$(1)/tests/%,$(TEST_SRCS))

.PHONY: all deps run test check check-san fuzz fuzz-safetensors fuzz-csv fuzz-pth fuzz-decode fuzz-modelfile bench accuracy clean install uninstall
.DEFAULT_GOAL := all

all: fastc

fastc: $(BUILD)/fastc
	cp $< $@

# ---- compile rules, parameterised by build dir -----------------------------
# Each tree records the command line it is built with (flags.txt); objects
# depend on it, so a tree built with other flags (build/san compiled without
# the sanitizers, say) is rebuilt instead of trusted.
define BUILD_RULES
$(1)/flags.txt: FORCE
	@mkdir -p $(1)
	@echo '$$(CC) $$(CFLAGS_BASE) $(2)' | cmp -s - $$@ || echo '$$(CC) $$(CFLAGS_BASE) $(2)' > $$@

$(1)/obj/%.o: src/%.c $(1)/flags.txt
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $(2) -MMD -MP -c $$< -o $$@

$(1)/lib.a: $$(call objs,$(1))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/fastc: src/main.c $(1)/lib.a
	$$(CC) $$(CFLAGS_BASE) $(2) src/main.c $(1)/lib.a -o $$@ $$(LIBS_RUN)

$(1)/tests/helpers.a: $$(patsubst tests/%.c,$(1)/tests/%.o,$$(TEST_HELPERS))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/%.o: tests/%.c $(1)/flags.txt
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $(2) -Itests -Itests/helpers -MMD -MP -c $$< -o $$@

$(1)/tests/test_%: $(1)/tests/test_%.o $(1)/tests/helpers.a $(1)/lib.a
	$$(CC) $$(CFLAGS_BASE) $(2) $$^ -o $$@ $$(LIBS_TEST) $$(LIBS_RUN)

# the manual page and the completion script, from fastc's own tables
$(1)/gendocs: tools/gendocs.c $(1)/lib.a
	$$(CC) $$(CFLAGS_BASE) $(2) $$< $(1)/lib.a -o $$@ $$(LIBS_RUN)

$(1)/fastc.1: $(1)/gendocs
	$$< man > $$@.tmp && mv $$@.tmp $$@

$(1)/fastc.bash: $(1)/gendocs
	$$< bash-completion > $$@.tmp && mv $$@.tmp $$@
endef

# `make BUILD=build/san ...` builds the sanitizer tree, with its own flags.
ifeq ($(BUILD),$(SAN_BUILD))
$(eval $(call BUILD_RULES,$(SAN_BUILD),$(SAN_FLAGS)))
else
$(eval $(call BUILD_RULES,$(BUILD),$(OPT)))
$(eval $(call BUILD_RULES,$(SAN_BUILD),$(SAN_FLAGS)))
endif

.PHONY: FORCE
FORCE:

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- set-up -----------------------------------------------------------------
deps:
	@./tools/deps.sh $(DEB_BUILD)

# ---- tests ------------------------------------------------------------------
# Each tests/test_*.c is one Check suite (one per module) and its own program.
check: $(BUILD)/fastc $(call tests_of,$(BUILD))
	@FASTC=$(CURDIR)/$(BUILD)/fastc ./tests/run.sh $(call tests_of,$(BUILD))

check-san: $(SAN_BUILD)/fastc $(call tests_of,$(SAN_BUILD))
	@FASTC=$(CURDIR)/$(SAN_BUILD)/fastc FASTC_SANITIZED=1 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ./tests/run.sh $(call tests_of,$(SAN_BUILD))

# The sanitizer build runs first: a read past a buffer fails loudly there,
# where the release build might pass by luck.  Compiling uses every core
# (JOBS); tests/run.sh runs the suites one per core at a time (TEST_JOBS=1:
# one after another), each suite's output printed whole, in order.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) -j$(JOBS) fastc
	$(MAKE) -j$(JOBS) check-san
	$(MAKE) -j$(JOBS) check

# ---- the main job -----------------------------------------------------------
run: deps
	@./tools/deps.sh $(DEB_DATA)
	$(MAKE) fastc
	./fastc validate configs/fashion_mnist.ini --quiet
	./fastc get fashion_mnist data/fashion_mnist
	@if ./fastc --version | grep -q '^bf16: native'; then set -x; ./fastc train configs/fashion_mnist.ini; \
	else echo "make run: this CPU has no AVX512-BF16 (bf16 would be emulated, many times slower): training in fp32"; \
	set -x; ./fastc train configs/fashion_mnist.ini --set model.precision=fp32; fi

# ---- fuzzing ----------------------------------------------------------------
FUZZ_TIME ?= 600
FUZZ_SRCS := $(shell find src/config src/core -name '*.c' | sort)
build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fopenmp=libgomp -Isrc \
	  $(shell pkg-config --cflags $(PKGS_RUN)) $^ -o $@ $(LIBS_RUN)

fuzz:
	@./tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(MAKE) build/fuzz/fuzz_config
	@mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_config -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	  -dict=tests/fuzz/config.dict build/fuzz/corpus tests/fuzz/corpus

# ---- bench programs (bench/*.c against the library; bench/*.sh build them) ----
$(BUILD)/bench/%: bench/%.c $(BUILD)/lib.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT) $< $(BUILD)/lib.a -o $@ $(LIBS_RUN)

# libFuzzer on the safetensors reader, the JSON parser (src/io) and loading a
# model from what they read (src/models/weights.c).
FUZZ_ST_SRCS := src/io/safetensors.c src/io/json.c src/io/atomic.c src/core/err.c src/core/rng.c src/core/mem.c \
                src/models/model.c src/models/weights.c tests/helpers/fakemodel.c
build/fuzz/fuzz_safetensors: tests/fuzz/fuzz_safetensors.c $(FUZZ_ST_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -Itests/helpers $^ -o $@ -lm

fuzz-safetensors:
	@./tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(MAKE) build/fuzz/fuzz_safetensors
	@mkdir -p build/fuzz/corpus_safetensors
	build/fuzz/fuzz_safetensors -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=65536 build/fuzz/corpus_safetensors tests/fuzz/corpus_safetensors

# libFuzzer on the CSV reader, label names and PointsFromCSV (src/data/csv.c, labels.c).
FUZZ_CSV_SRCS := src/data/csv.c src/data/labels.c src/core/err.c src/core/utf8.c
build/fuzz/fuzz_csv: tests/fuzz/fuzz_csv.c $(FUZZ_CSV_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc $^ -o $@ -lm

fuzz-csv:
	@./tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(MAKE) build/fuzz/fuzz_csv
	@mkdir -p build/fuzz/corpus_csv
	build/fuzz/fuzz_csv -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=16384 -dict=tests/fuzz/csv.dict build/fuzz/corpus_csv tests/fuzz/corpus_csv

# libFuzzer on the PyTorch .pth reader (src/io/pth.c): checksums are not
# enforced in this build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION), so the
# fuzzer reaches the pickle machine behind them.
FUZZ_PTH_SRCS := src/io/pth.c $(FUZZ_ST_SRCS)
build/fuzz/fuzz_pth: tests/fuzz/fuzz_pth.c $(FUZZ_PTH_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -g -O1 \
	  -fsanitize=fuzzer,address,undefined -Isrc -Itests/helpers $^ -o $@ -lz -lm

fuzz-pth:
	@./tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(MAKE) build/fuzz/fuzz_pth
	@mkdir -p build/fuzz/corpus_pth
	build/fuzz/fuzz_pth -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=65536 build/fuzz/corpus_pth tests/fuzz/corpus_pth

# libFuzzer on image decoding: JPEG and PNG through image_decode_mem, the
# entry point the loaders and predict use (src/data/decode.c).
FUZZ_DEC_SRCS := src/data/decode.c src/data/image.c src/core/err.c
build/fuzz/fuzz_decode: tests/fuzz/fuzz_decode.c $(FUZZ_DEC_SRCS)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
	  $(shell pkg-config --cflags libpng libjpeg) $^ -o $@ $(shell pkg-config --libs libpng libjpeg zlib) -lm

fuzz-decode:
	@./tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(MAKE) build/fuzz/fuzz_decode
	@mkdir -p build/fuzz/corpus_decode
	build/fuzz/fuzz_decode -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=65536 build/fuzz/corpus_decode tests/fuzz/corpus_decode

# libFuzzer on model and resume-state files past the container: metadata,
# the preprocessing rebuilt from it, collab models, state arrays and keys.
# It needs most of the library, built once with the fuzzer's instrumentation.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fopenmp=libgomp -Isrc \
               $(shell pkg-config --cflags $(PKGS_RUN) ompi-c 2>/dev/null)
build/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/lib.a: $(patsubst src/%.c,build/fuzz/obj/%.o,$(SRCS))
	@rm -f $@
	ar rcs $@ $^
build/fuzz/fuzz_modelfile: tests/fuzz/fuzz_modelfile.c tests/helpers/fakemodel.c build/fuzz/lib.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/helpers $^ -o $@ $(LIBS_RUN)

fuzz-modelfile:
	@./tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(MAKE) build/fuzz/fuzz_modelfile
	@mkdir -p build/fuzz/corpus_modelfile
	build/fuzz/fuzz_modelfile -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=65536 -dict=tests/fuzz/modelfile.dict build/fuzz/corpus_modelfile tests/fuzz/corpus_modelfile

# ---- long runs ----------------------------------------------------------------
bench: deps
	@./tools/deps.sh $(DEB_BENCH) $(DEB_DATA)
	$(MAKE) fastc
	./bench/run.sh

accuracy: deps
	@./tools/deps.sh $(DEB_DATA)
	$(MAKE) fastc
	./bench/accuracy.sh

# ---- install (GNU conventions: prefix and the directory variables, DESTDIR for staging) ----
PREFIX      ?= /usr/local
prefix      ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir      ?= $(exec_prefix)/bin
datarootdir ?= $(prefix)/share
mandir      ?= $(datarootdir)/man
man1dir     ?= $(mandir)/man1
bashcompdir ?= $(datarootdir)/bash-completion/completions
INSTALL         ?= install
INSTALL_PROGRAM ?= $(INSTALL)
INSTALL_DATA    ?= $(INSTALL) -m 644

# the tree installed from (test_install sets build/san for the sanitizer run)
INSTALL_BUILD ?= $(BUILD)

install: $(INSTALL_BUILD)/fastc $(INSTALL_BUILD)/fastc.1 $(INSTALL_BUILD)/fastc.bash
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(man1dir) $(DESTDIR)$(bashcompdir)
	$(INSTALL_PROGRAM) $(INSTALL_BUILD)/fastc $(DESTDIR)$(bindir)/fastc
	$(INSTALL_DATA) $(INSTALL_BUILD)/fastc.1 $(DESTDIR)$(man1dir)/fastc.1
	$(INSTALL_DATA) $(INSTALL_BUILD)/fastc.bash $(DESTDIR)$(bashcompdir)/fastc

uninstall:
	rm -f $(DESTDIR)$(bindir)/fastc $(DESTDIR)$(man1dir)/fastc.1 $(DESTDIR)$(bashcompdir)/fastc

clean:
	rm -rf build fastc

# Keep test objects (make would delete them as intermediates).
.SECONDARY:

# ---- engine benchmark program (bench/bench_engine.sh) ---------------------------
$(BUILD)/bench_engine: bench/bench_engine.c $(BUILD)/lib.a
	$(CC) $(CFLAGS_BASE) $(OPT) $< $(BUILD)/lib.a -o $@ $(LIBS_RUN)

bench-engine: $(BUILD)/bench_engine
.PHONY: bench-engine
