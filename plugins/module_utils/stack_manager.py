# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a converted stack to a swarm: the manager side of stack_deploy.

Order: convert and validate everything, resolve image digests, then create
networks, configs and secrets, then create or update services. Nothing is
touched until every input has been checked. If the Engine refuses a service
half way, the module fails with what this run already changed (``partial``),
and the rollout's owner undoes it (rollout/owner.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import (
    ComposeError,
    convert_stack,
    load_stack,
    newest_version,
)
from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
)
from ansible_collections.conductor.swarm.plugins.module_utils.labels import CONTENT_HASH_LABEL, NAMESPACE_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.long_poll import snapshot
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import (
    read_failures_allowed,
    read_fail_mode,
)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import parse_service_route
from ansible_collections.conductor.swarm.plugins.module_utils.edge.proxy_client import EdgeError, EdgeProxy
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import STATE_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import StrategyError
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock import ApplyHold
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock_engine import engine_lock
from ansible_collections.conductor.swarm.plugins.module_utils.swarm_validation import swarm_refusals
from ansible_collections.conductor.swarm.plugins.module_utils.takeover import candidates, dropped, keep_cli_objects
from ansible_collections.conductor.swarm.plugins.module_utils.variant_router import RouterError, router_spec
from ansible_collections.conductor.swarm.plugins.module_utils.variants import (
    as_variant,
    has_colours,
    plan_colour,
    variant_name,
)
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import (
    COLOUR_STRATEGIES,
    describe as describe_strategies,
    plan_strategies,
    warnings as strategy_warnings,
)
from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import (
    changes,
    last_applied,
    normalize_live,
    plan_services,
    service_hash,
    with_own_labels,
)


def pin_digest(image, digest):
    """`repo:tag@sha256:…`, as `docker stack deploy` pins it."""
    if "@" in image:
        return image
    return "%s@%s" % (image, digest)


def check_rollout_labels(name, spec):
    """The rollout and route labels must be readable before anything changes, not while tracking."""
    try:
        read_fail_mode({"Spec": spec})
        read_failures_allowed({"Spec": spec})
        parse_service_route(name, spec.get("Labels"))
    except ValueError as exc:  # its message already names the service
        raise ComposeError(str(exc))


def check_swarm_refusals(name, spec):
    """What the manager would refuse at create or update, refused here, before any network or config exists."""
    refusals = swarm_refusals(spec)
    if refusals:
        raise ComposeError("%s: the swarm would refuse it: %s" % (name, "; ".join(refusals)))


def referenced_objects(services, kind):
    """Names of configs or secrets referenced by services' current and previous specs."""
    key = "Configs" if kind == "configs" else "Secrets"
    name_key = "ConfigName" if kind == "configs" else "SecretName"
    used = set()
    for service in services:
        for spec in (service.get("Spec"), service.get("PreviousSpec")):
            container = ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
            for ref in container.get(key) or []:
                used.add(ref.get(name_key))
    return used


def versions_to_remove(objects, used, keep):
    """Per logical name, the unused versions beyond the newest `keep`."""
    groups = {}
    for obj in objects:
        # <stack>_<name>_<content hash>: versions of one config share what precedes the hash.
        group = obj["Spec"]["Name"].rsplit("_", 1)[0]
        groups.setdefault(group, []).append(obj)
    remove = []
    for members in groups.values():
        members.sort(key=lambda o: o.get("CreatedAt", ""), reverse=True)
        kept = 0
        for obj in members:
            name = obj["Spec"]["Name"]
            if name in used:
                continue
            kept += 1
            if kept > keep:
                remove.append(obj)
    return remove


class StackManager:
    def __init__(self, module, files):
        self.module = module
        self.params = module.params
        self.stack = self.params["name"]
        self.files = files
        self.client = SwarmClient(module)
        self.auth = self.params["registry_auth"]
        self.made = []
        self.hold = None  # the stack lock, once take_lock has it

    def read_file(self, path):
        if path not in self.files:
            raise ComposeError("file %s, referenced by the Compose files, was not found" % path)
        return self.files[path]

    def run(self):
        self.client.require_manager()
        if self.params["phase"] == "cleanup":
            return self.module.exit_json(**self.cleanup())
        # Interpolation works on text: numbers and booleans in `variables` are written as text.
        variables = dict((str(k), str(v)) for k, v in (self.params["variables"] or {}).items())
        try:
            # The file versions the managers' docker CLI reads (docker stack deploy there), no newer.
            engine = self.client.server_version
            working_dir = self.params.get("working_dir")
            if working_dir and not working_dir.startswith("/"):
                raise ComposeError("working_dir must be an absolute path, not %s" % working_dir)
            compose = load_stack(self.params["compose"], variables, self.read_file, working_dir=working_dir,
                                 newest=newest_version(engine), cli="Docker %s" % engine if engine else None)
            converted = convert_stack(self.stack, compose, self.read_file)
            for name, spec in converted["services"].items():
                check_rollout_labels(name, spec)
                check_swarm_refusals(name, spec)
        except ComposeError as exc:
            self.module.fail_json(msg="the Compose files were rejected, nothing was changed: %s" % exc)
        for warning in converted.get("warnings") or []:
            self.module.warn(warning)
        try:
            desired, chosen, checked, fallbacks = plan_strategies(converted["services"], self.params["strategy"],
                                                                  self.params["strategy_options"])
        except StrategyError as exc:
            self.module.fail_json(msg="the strategy was rejected, nothing was changed: %s" % exc)
        converted["services"] = desired
        self.take_lock()
        try:
            # One look at what the swarm has; every check before the change reads it.
            self.network_names = dict((n["Id"], n["Name"]) for n in self.client.api.networks())
            self.live_objects = dict((kind, dict((o["Spec"]["Name"], o) for o in self.client.all_objects(kind)))
                                     for kind in ("configs", "secrets"))
            self.object_ids = dict((kind, dict((n, o["ID"]) for n, o in objs.items()))
                                   for kind, objs in self.live_objects.items())
            self.check_external(converted)
            if self.params["resolve_image"] == "always":
                self.resolve_images(desired)
            live_services = dict((s["Spec"]["Name"], s) for s in self.client.stack_services(self.stack))
            desired, colours = self.place_colours(desired, chosen, live_services)
            desired = self.take_over(desired, converted, live_services)
            plan = plan_services(desired, live_services, prune=self.params["prune"],
                                 network_names=self.network_names)
            # A prune leaves every colour of a colour-rolled service alone: the live one serves.
            kept = set(n for c in colours.values() for n in c["keep"])
            plan["remove"] = [n for n in plan["remove"] if n not in kept]
            objects = self.missing_objects(converted)
        except (DockerException, RequestException) as exc:
            self.refuse(msg="cannot read the swarm, nothing was changed: %s" % exc)
        result = self.describe(plan, desired, live_services, objects)
        result["variants"] = colours
        rolled_out = plan["create"] + plan["update"]
        result["strategy"] = {"name": self.params["strategy"],
                              "plan": describe_strategies(dict((n, chosen[n]) for n in rolled_out), checked),
                              "warnings": strategy_warnings(desired, chosen, checked, rolled_out),
                              "notes": fallbacks, "options": checked}
        for warning in result["strategy"]["warnings"]:
            self.module.warn(warning)
        # A colour that already runs the files' spec still has traffic to take over: that is a change too.
        result["changed"] = bool(plan["create"] or plan["update"] or plan["remove"]
                                 or any(not c["unchanged"] for c in colours.values())
                                 or any(objects.values()))
        if self.module._diff:
            result["diff"] = self.diff(plan, desired, live_services)
        if self.module.check_mode or not result["changed"]:
            if not any(svc.get("update_state") == "updating" for svc in result["services"].values()):
                self.give_back_lock()  # nothing follows: neither a change to track nor an earlier run's update
            return self.exit(**result)
        result["cleanup_possible"] = self.cleanup_possible(objects)
        # Engine time before the change: task failures from then on are this rollout's.
        result["started_at"] = self.client.now()
        try:
            self.apply(plan, desired, live_services, converted, objects, result)
        except Exception as exc:  # pylint: disable=broad-except  # any failure: undone, never half a stack left
            # What this run changed goes back through the same tracked rollback as a failed rollout.
            self.module.fail_json(msg="the swarm refused part of the deploy: %s" % exc, services=result["services"],
                                  partial=self.partial(result), **self.lock_result())
        try:
            # The tracker's first look, taken here: its first progress line needs no round trip.
            result["snapshot"] = snapshot(self.client, self.stack, rolled_out)
        except (DockerException, RequestException):
            pass  # the tracker's first poll reads it instead
        return self.exit(**result)

    # --- the stack lock (stack_lock.py), taken by the apply itself -------------------

    def take_lock(self):
        """Held from before the swarm is read; another run's lock stops this one before any change."""
        run = self.params["lock_run"]
        if not (self.params["lock"] and run):
            return
        said = []
        self.hold = ApplyHold(engine_lock(self.client, self.stack, run["run_id"], run["owner"], run["ttl"], said.append),
                              said, self.params["lock_break"], self.module.check_mode)
        try:
            refused = self.hold.take()
        except (DockerException, RequestException) as exc:
            self.module.fail_json(msg="stack %s: nothing was changed: cannot read or write its lock: %s"
                                  % (self.stack, exc), **self.lock_result())
        if refused:
            self.module.fail_json(msg=refused, lock_holder=self.hold.holder, **self.lock_result())

    def give_back_lock(self):
        if self.hold is not None:
            self.hold.give_back((DockerException, RequestException))

    def lock_result(self):
        return {} if self.hold is None else {"lock": self.hold.answer()}

    def refuse(self, msg, **extra):
        """Fail before any change: the lock this call took goes back with it."""
        self.give_back_lock()
        self.module.fail_json(msg=msg, **dict(extra, **self.lock_result()))

    def exit(self, **result):
        self.module.exit_json(**dict(result, **self.lock_result()))

    # --- colours ------------------------------------------------------------------

    def place_colours(self, desired, chosen, live):
        """Services rolled out by colour go to the idle colour; the live one is left alone.

        A service that now rolls in place (rolling, recreate) but runs as colours is
        updated in its live colour. Returns the desired specs by full name and, per
        service that has colours (its route key), the plan the controller switches by.
        """
        by_colour = [n for n in sorted(desired) if chosen[n] in COLOUR_STRATEGIES]
        in_colour = [n for n in sorted(desired) if n not in by_colour and has_colours(n, live)]
        if not by_colour and not in_colour:
            return desired, {}
        edge, routing = self.edge_and_routing()
        placed = dict((n, spec) for n, spec in desired.items() if n not in by_colour + in_colour)
        colours = {}
        for route in by_colour + in_colour:
            try:
                router = router_spec(route, desired[route], edge)
            except RouterError as exc:
                self.refuse(msg="%s runs as colours, and its router cannot be built: %s; nothing was "
                            "changed" % (route, exc))
            if router["Name"] in desired:
                self.refuse(msg="the stack has a service named %s: that name is %s's router; rename it, "
                            "nothing was changed" % (router["Name"], route))
            placed[router["Name"]] = router
            chosen[router["Name"]] = "rolling"
            plan = plan_colour(route, desired[route], live, routing.get(route), service_hash)
            if route in in_colour:
                # Updated where it serves: the strategy's own update, no traffic to move.
                plan = dict(plan, target=None, unchanged=True, in_place=True, others=[])
            variant = plan["live"] if plan["unchanged"] else plan["target"]
            spec = as_variant(desired[route], route, variant)
            placed[spec["Name"]] = spec
            chosen[spec["Name"]] = chosen[route]
            colours[route] = dict(plan, strategy=chosen[route], service=spec["Name"], router=router["Name"],
                                  keep=plan["keep"] + [router["Name"]],
                                  live_service=variant_name(route, plan["live"]) if plan["live"] else None)
        return placed, colours

    def edge_and_routing(self):
        """The edge proxy's service, and its routing state ({route: {"green": percent, ...}}) from its label."""
        proxy = EdgeProxy(self.client, self.params["edge_service"])
        try:
            edge = proxy.service()
        except EdgeError as exc:
            self.refuse(msg="blue-green and canary need the edge proxy: %s; nothing was changed" % exc)
        try:
            return edge, proxy.state(edge)["routes"]
        except ValueError as exc:  # StateError
            self.refuse(msg="the edge proxy's routing state on service %s is unreadable (%s); nothing was "
                        "changed" % (self.params["edge_service"], exc))

    # --- checks before anything changes ---------------------------------------

    def check_external(self, converted):
        existing = set(self.network_names.values())
        missing = [n for n in converted.get("external_networks") or [] if n not in existing]
        for kind in ("configs", "secrets"):
            missing.extend(o["name"] for o in converted[kind].values()
                           if o.get("external") and o["name"] not in self.object_ids[kind])
        if missing:
            self.refuse(msg="external objects the stack needs do not exist, nothing was changed: %s"
                        % ", ".join(sorted(missing)))

    def auth_for(self, image):
        """The registry credentials, only for images of that registry."""
        if self.auth and image.startswith(self.auth["serveraddress"].rstrip("/") + "/"):
            return self.auth
        return None

    def resolve_images(self, desired):
        failures = []
        digests = {}
        for spec in desired.values():
            container = spec["TaskTemplate"]["ContainerSpec"]
            image = container["Image"]
            if "@" in image:
                continue
            if image not in digests:
                try:
                    digests[image] = self.client.resolve_image(image, self.auth_for(image))
                except (DockerException, RequestException) as exc:
                    failures.append("%s (%s)" % (image, str(exc).strip()))
                    continue
            digest, platforms = digests[image]
            container["Image"] = pin_digest(image, digest)
            # As the Docker client does: schedule only where the image can run.
            placement = spec["TaskTemplate"].setdefault("Placement", {})
            if platforms and not placement.get("Platforms"):
                placement["Platforms"] = platforms
        if failures:
            self.refuse(msg="image(s) cannot be resolved from their registry, nothing was changed: %s"
                        % "; ".join(failures))

    def take_over(self, desired, converted, live):
        """Services docker stack deploy made keep its configs and secrets while their content is the files'
        (takeover.py): a takeover restarts no task."""
        by_name = dict(((section, obj["name"]), obj) for section in ("configs", "secrets")
                       for obj in converted[section].values() if not obj.get("external"))
        decided = {}
        for _service, section, hashed, old in candidates(desired, live):
            if (section, hashed) not in decided:
                same = self.same_content(section, by_name.get((section, hashed)), old)
                decided[(section, hashed)] = old if same else None
        kept = dict((key, old) for key, old in decided.items() if old)
        if not kept:
            return desired
        desired = keep_cli_objects(desired, kept)
        for section, names in dropped(kept, desired).items():
            for key in [k for k, obj in converted[section].items() if obj["name"] in names]:
                del converted[section][key]
        return desired

    def same_content(self, section, obj, old):
        """Whether the live object `old` holds what `obj` (converted) holds."""
        live = self.live_objects[section].get(old)
        if obj is None or live is None or obj.get("driver"):
            return False
        spec = live["Spec"]
        if (spec.get("Templating") or {}).get("Name") != obj.get("template_driver"):
            return False
        if section == "configs":  # the Engine reads a config's data back
            return spec.get("Data") == obj["spec"].get("Data")
        digest = obj["labels"][CONTENT_HASH_LABEL]
        if (spec.get("Labels") or {}).get(CONTENT_HASH_LABEL) == digest:  # checked and labelled before
            return True
        if self.module.check_mode:
            self.module.warn("secret %s, made by docker stack deploy, cannot be compared with the files without a "
                             "write; check mode counts it as changed, a real run keeps it when its content is the "
                             "same" % old)
            return False
        # The Engine reads a secret's data back to nobody, but refuses an update that changes it: the same
        # update docker stack deploy sends on each run tells whether the content is the same, and labels it.
        labels = dict(spec.get("Labels") or {}, **{CONTENT_HASH_LABEL: digest})
        try:
            self.client.update_object("secrets", live["ID"], live["Version"]["Index"],
                                      dict(spec, Labels=labels, Data=obj["spec"]["Data"]))
        except DockerException as exc:
            if "only updates to labels are allowed" in str(exc).lower():
                return False
            raise
        return True

    def missing_objects(self, converted):
        missing = {"networks": [], "configs": [], "secrets": []}
        existing_nets = set(self.network_names.values())
        for name in sorted(converted["networks"]):
            if name not in existing_nets:
                missing["networks"].append(name)
        for kind in ("configs", "secrets"):
            # Swarm-wide: a config with its own `name:` is not scoped to this stack, and the
            # same content under the same name is one object that stacks share.
            for obj in converted[kind].values():
                if not obj.get("external") and obj["name"] not in self.object_ids[kind]:
                    missing[kind].append(obj["name"])
        return missing

    # --- what would change ------------------------------------------------------

    def describe(self, plan, desired, live, objects):
        services = {}
        for name in plan["create"] + plan["update"] + plan["unchanged"]:
            before = self.before(live.get(name))
            services[name] = {
                "action": "create" if name in plan["create"] else "update" if name in plan["update"] else "unchanged",
                "id": (live.get(name) or {}).get("ID"),
                "version": ((live.get(name) or {}).get("Version") or {}).get("Index"),
                "image": desired[name]["TaskTemplate"]["ContainerSpec"]["Image"],
                "changes": [c[0] for c in changes(before, desired[name])] if name in plan["update"] else [],
                "drift": plan["drift"].get(name, []),
                "spec_hash": service_hash(desired[name]),
                # Swarm's own state of the service's last update: an unchanged service still "updating"
                # is a rollout an earlier run left (killed, or lost), which this run tracks to its end.
                "update_state": (((live.get(name) or {}).get("UpdateStatus")) or {}).get("State"),
            }
        for name in plan["remove"]:
            services[name] = {"action": "remove", "id": live[name]["ID"], "version": None, "image": None,
                              "changes": [], "drift": [], "spec_hash": None}
        return {"stack": self.stack, "services": services, "drift": plan["drift"],
                "created": objects, "removed": {"services": plan["remove"], "configs": [], "secrets": []}}

    def before(self, service):
        """A live service in the files' terms: its last-applied spec, else its normalised live spec."""
        if service is None:
            return {}
        return last_applied(service) or normalize_live(service["Spec"], self.network_names)

    def diff(self, plan, desired, live):
        before, after = {}, {}
        for name in plan["create"] + plan["update"] + plan["remove"]:
            old = self.before(live.get(name))
            new = desired.get(name) or {}
            lines_before, lines_after = [], []
            for path, a, b in changes(old, new):
                if a is not None:
                    lines_before.append("%s: %s" % (path, a))
                if b is not None:
                    lines_after.append("%s: %s" % (path, b))
            for path in plan["drift"].get(name, []):
                lines_before.append("%s: edited by hand since the last deploy (drift)" % path)
            before[name] = "\n".join(lines_before) + "\n" if lines_before else ""
            after[name] = "\n".join(lines_after) + "\n" if lines_after else ""
        return [{"before_header": "%s (live)" % n, "after_header": "%s (files)" % n,
                 "before": before[n], "after": after[n]} for n in sorted(before)]

    # --- changing the swarm -----------------------------------------------------

    def apply(self, plan, desired, live, converted, objects, result):
        send_auth = self.params["with_registry_auth"]
        for name in objects["networks"]:
            body = dict(converted["networks"][name], Name=name)
            net = self.client.create_network(body)
            self.made.append(("network", net.get("Id"), name))
        ids = dict((kind, dict(self.object_ids[kind])) for kind in ("configs", "secrets"))
        for kind in ("configs", "secrets"):
            for obj in converted[kind].values():
                if obj["name"] in objects[kind]:
                    made = self.client.create_object(kind, obj["spec"])
                    self.made.append((kind[:-1], made["ID"], obj["name"]))
                    ids[kind][obj["name"]] = made["ID"]
        for name in plan["create"] + plan["update"]:
            spec = with_own_labels(self.with_object_ids(desired[name], ids), identity=desired[name])
            auth = self.auth_for(spec["TaskTemplate"]["ContainerSpec"]["Image"]) if send_auth else None
            if name in plan["create"]:
                made = self.client.create_service(spec, auth)
                self.made.append(("service", made["ID"], name))
                result["services"][name]["id"] = made["ID"]
            else:
                service = live[name]
                # As docker stack deploy does: a different ForceUpdate would restart every task.
                spec["TaskTemplate"]["ForceUpdate"] = service["Spec"]["TaskTemplate"].get("ForceUpdate", 0)
                # A redeploy of the edge proxy keeps the routing state the switches wrote.
                state = (service["Spec"].get("Labels") or {}).get(STATE_LABEL)
                if state is not None:
                    spec["Labels"][STATE_LABEL] = state
                self.client.update_service(service["ID"], service["Version"]["Index"], spec, auth)
                self.made.append(("update", service["ID"], name))
            inspected = self.client.api.inspect_service(result["services"][name]["id"])
            result["services"][name]["version"] = inspected["Version"]["Index"]
        for name in plan["remove"]:
            self.client.api.remove_service(live[name]["ID"])

    @staticmethod
    def with_object_ids(spec, ids):
        spec = copy.deepcopy(spec)
        container = spec["TaskTemplate"]["ContainerSpec"]
        for ref in container.get("Configs") or []:
            ref["ConfigID"] = ids["configs"][ref["ConfigName"]]
        for ref in container.get("Secrets") or []:
            ref["SecretID"] = ids["secrets"][ref["SecretName"]]
        return spec

    def partial(self, result):
        """What a refused apply had changed: the services (as the result describes them) and the objects it made."""
        services = dict((name, result["services"][name]) for kind, _id, name in self.made if kind in ("service", "update"))
        objects = [{"kind": kind, "id": obj_id, "name": name} for kind, obj_id, name in self.made
                   if kind in ("network", "config", "secret")]
        return {"services": services, "objects": objects}

    def cleanup_possible(self, objects):
        """Whether the cleanup after the rollout could remove anything: some name of this stack has more
        versions than are kept, counting those this deploy creates."""
        for kind in ("configs", "secrets"):
            names = [name for name, obj in self.live_objects[kind].items()
                     if ((obj.get("Spec") or {}).get("Labels") or {}).get(NAMESPACE_LABEL) == self.stack]
            groups = {}
            for name in names + list(objects[kind]):
                groups[name.rsplit("_", 1)[0]] = groups.get(name.rsplit("_", 1)[0], 0) + 1
            if any(count > self.params["keep_versions"] for count in groups.values()):
                return True
        return False

    def cleanup(self):
        """Remove config and secret versions no one uses, beyond the newest keep_versions."""
        # Every service counts: a config with its own name can be shared by several stacks.
        services = self.client.api.services()
        removed = {"services": [], "configs": [], "secrets": []}
        for kind in ("configs", "secrets"):
            objects = [o for o in self.client.stack_objects(kind, self.stack)
                       if ((o.get("Spec") or {}).get("Labels") or {}).get(NAMESPACE_LABEL) == self.stack]
            for obj in versions_to_remove(objects, referenced_objects(services, kind), self.params["keep_versions"]):
                if not self.module.check_mode:
                    remover = self.client.api.remove_config if kind == "configs" else self.client.api.remove_secret
                    try:
                        remover(obj["ID"])
                    except (DockerException, RequestException) as exc:  # in use after all (a task still holds it): keep it
                        self.module.warn("kept %s %s: %s" % (kind[:-1], obj["Spec"]["Name"], exc))
                        continue
                removed[kind].append(obj["Spec"]["Name"])
        return {"changed": bool(removed["configs"] or removed["secrets"]), "removed": removed,
                "stack": self.stack}
