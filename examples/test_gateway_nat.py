# examples/test_gateway_nat.py: `pytest examples/` (the plugin comes with simlab)
import pytest

import simlab


@pytest.fixture(scope="module")
def gateway(simlab_lab_module):
    """The lab of the shipped gateway-nat scenario (its steps are not run), shared by this module."""
    return simlab_lab_module("gateway-nat")


def test_container_a_reaches_the_outside_host(gateway):
    gateway.check_ping("container-a", "172.17.0.3")


def test_the_internet_answers_through_nat(gateway):
    gateway.check_ping("outside", "8.8.8.8")


def test_a_new_namespace_has_no_route(simlab_lab):
    pair = (simlab.Builder("pair")
            .host("a", interfaces={"eth0": "10.0.0.1/24"})
            .host("b", interfaces={"eth0": "10.0.0.2/24"})
            .link("a:eth0", "b:eth0"))
    lab = simlab_lab(pair)  # a lab of its own, removed after this test
    assert lab.exec("a", "ip netns add red").exit_code == 0
    lab.check_ping("a", "10.0.0.2", netns="red", expect="unreachable")
