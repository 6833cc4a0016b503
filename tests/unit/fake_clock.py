"""A clock for unit tests: time stands still until something sleeps (the Cluster port's clock interface)."""


class FakeClock(object):
    def __init__(self, now=0.0):
        self.now = now

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
