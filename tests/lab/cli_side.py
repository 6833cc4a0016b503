"""What the lab tests that put a `docker stack deploy` beside ours share: the CLI's registry login
on the manager, and service specs read back without what we add on purpose."""
import copy
import re

from labenv import on_manager

HASH_SUFFIX = re.compile(r"_[0-9a-f]{10}$")  # our content hash on config and secret names


def login_on_manager(lab):
    """`docker login` on the manager, so the CLI's --with-registry-auth has credentials to send."""
    reg = lab["registry"]
    login = on_manager("docker login -u %s --password-stdin %s" % (reg["username"], reg["address_in_lab"]),
                       stdin=lab["password"])
    assert login.returncode == 0, login.stdout
    return reg


def without_our_labels(labels):
    """Labels without ours (conductor.swarm.*: content hashes, rollout records)."""
    return dict((k, v) for k, v in (labels or {}).items() if not k.startswith("conductor.swarm."))


def normalize_service(spec, network_names):
    """A service spec as both sides can be compared: our labels, hashed names, IDs and ForceUpdate out,
    networks by name."""
    spec = copy.deepcopy(dict(spec, Labels=without_our_labels(spec.get("Labels"))))
    template = spec["TaskTemplate"]
    template.pop("ForceUpdate", None)
    for net in template.get("Networks") or []:
        net["Target"] = network_names.get(net["Target"], net["Target"])
    container = template["ContainerSpec"]
    for ref in container.get("Configs") or []:
        ref.pop("ConfigID", None)
        ref["ConfigName"] = HASH_SUFFIX.sub("", ref["ConfigName"])
    for ref in container.get("Secrets") or []:
        ref.pop("SecretID", None)
        ref["SecretName"] = HASH_SUFFIX.sub("", ref["SecretName"])
    return spec
