# The two commands a new user runs (as root): `make demo` and `make test`.
SHELL := /bin/bash
BACKEND ?= netns
NTKLAB := node dist/lab/src/cli/ntklab.js

.PHONY: setup build demo demo-lab test bench bench-ntkd bench-compare clean cleanup

setup:            ## install what is missing (Debian packages, npm packages) and start dockerd if none answers
	bash ci/setup.sh

build: setup
	npx tsc -p tsconfig.json

demo: build      ## two ntkd networks come up apart, meet and merge: addresses and network ids before and after, a ping across, the graph (as root)
	BACKEND=$(BACKEND) bash scripts/demo-merge.sh

demo-lab: build  ## the lab alone: bring topologies/demo.yaml up, show it, tear it down
	$(NTKLAB) deploy topologies/demo.yaml --backend $(BACKEND)
	$(NTKLAB) inspect demo
	$(NTKLAB) exec demo a -- ping -c 1 -W 2 169.254.1.2
	$(NTKLAB) destroy demo

test: build      ## everything CI runs; ends with "N passed, N failed"
	bash ci/test.sh

bench: build     ## deploy/destroy times of grids on both backends
	node dist/bench/lab-deploy.js

bench-ntkd: build  ## 5x5 grid of ntkd on netns: convergence, reroute, memory per daemon (as root)
	node dist/bench/ntkd-lab.js

bench-compare: build  ## ntkd beside babeld on the same links (5 topologies, 3 alternating runs): report, JSON and SVG plots under bench-results/ (as root; ARGS="--topologies ring10,grid5 --runs 1")
	node dist/bench/compare.js $(ARGS)

cleanup:         ## remove leftovers of crashed lab runs
	$(NTKLAB) cleanup

clean:
	rm -rf dist
