# Intelligent Sandbox: the two commands a new user needs are `make run` and
# `make test`; each installs what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2

.PHONY: all deps build test run clean

all: build

deps:
	scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	scripts/run-tests.sh $(BUILD_DIR)

run: build
	scripts/run-server.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
