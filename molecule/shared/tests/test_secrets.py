"""Join tokens never reach the output, even at -vvv."""
from conftest import LOG_DIR


def test_join_tokens_are_not_in_any_log(manager):
    tokens = [manager.check_output("docker swarm join-token -q %s" % kind) for kind in ("worker", "manager")]
    assert all(t.startswith("SWMTKN-") for t in tokens)
    logs = sorted(LOG_DIR.glob("*.log"))
    assert logs, "no logs in %s: the scenario must log its -vvv runs there" % LOG_DIR
    assert any("PLAY RECAP" in p.read_text(errors="replace") for p in logs)
    for path in logs:
        text = path.read_text(errors="replace")
        for token in tokens:
            assert token not in text, "a join token leaked into %s" % path.name
        assert "SWMTKN-" not in text, "a join token leaked into %s" % path.name
