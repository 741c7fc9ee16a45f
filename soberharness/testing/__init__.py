"""Test support for the harness's OWN tests and benches: protocol doubles of services that
cannot run here. Never a stand-in for the system under test: suites run against real
services; these only check the harness's clients (suites/selftest, soberharness/bench)."""
