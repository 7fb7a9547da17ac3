# Intelligent Sandbox: the two commands a new user needs are `make run` and
# `make test`; each installs what is missing first.
#   make run    installs what the server needs, builds the server and its
#               plugins only, prints the MCP client setups and the doctor's
#               summary (on stderr), then serves MCP on this terminal's stdio
#   make test   installs everything (engine, references, npm test clients),
#               builds everything, runs every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2

.PHONY: all deps deps-run build build-server test run clean

all: build

deps:
	scripts/install-deps.sh

deps-run:
	@scripts/install-deps.sh --run

# Everything, tests and benchmarks included (also in a tree `make run` made).
build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DISB_BUILD_TESTS=ON -DISB_BUILD_BENCH=ON
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The server and its plugins only. A tree configured here leaves tests and
# benchmarks out, so their dependencies need not be installed; a tree
# configured for tests keeps them, and only the server's targets are built.
# Output goes to stderr: stdout stays free on the way to the server.
build-server: deps-run
	@test -f $(BUILD_DIR)/CMakeCache.txt || \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DISB_BUILD_TESTS=OFF -DISB_BUILD_BENCH=OFF >&2
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target intelligent-sandbox >&2

test: build
	scripts/run-tests.sh $(BUILD_DIR)

run: build-server
	@scripts/run-server.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
