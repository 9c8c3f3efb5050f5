# Otedama: `make run` (set-up, build, start the local demo) and `make test` (set-up, build,
# every test but the `heavy` label). See README.md.
BUILD  ?= build
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all setup configure build run test test-heavy bench install clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@[ -f $(BUILD)/build.ninja ] || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash scripts/demo.sh

test: build
	@cd $(BUILD) && ctest --output-on-failure --label-exclude heavy -j $(JOBS)

test-heavy: build
	@cd $(BUILD) && ctest --output-on-failure --label-regex heavy

bench: build
	@bash scripts/bench.sh

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX) --strip

clean:
	rm -rf $(BUILD)
