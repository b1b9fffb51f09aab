#!/usr/bin/python3
"""The milter on a unix-domain socket, the packaged default.

A separate rig (its own Postfix with ``smtpd_milters = unix:...``) because
the socket type is part of Postfix's configuration. Kept to a couple of
messages: the verdict logic is covered over inet in test_end_to_end.py; this
only proves the socket path works end to end.
"""

import os
import socket
import stat

import rig as rigmod
from rig.testcase import RigTestCase

RIG = None


def setUpModule():
    global RIG
    RIG = rigmod.start_module_rig(milter_socket="unix")


def tearDownModule():
    if RIG is not None:
        RIG.close()


class UnixSocketTests(RigTestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = RIG
        RIG.ensure_milter()

    def test_socket_is_a_unix_socket(self):
        self.assertTrue(stat.S_ISSOCK(os.stat(self.rig.milter_address).st_mode))

    def test_pass(self):
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")

    def test_fail(self):
        self.check("fail", "secure.test", mail_from="alice@secure.test", cert="rogue.secure.test")

    def test_restart_replaces_stale_socket(self):
        """A socket file left by a dead milter must not stop the next one
        from binding (libmilter removes a stale socket when asked to)."""
        self.rig.stop_milter()
        if not os.path.exists(self.rig.milter_address):
            # The milter cleaned up after itself; leave a dead socket file
            # behind as a crash (SIGKILL, power loss) would.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
                dead.bind(self.rig.milter_address)
        self.assertFalse(rigmod.can_connect(self.rig.milter_address))
        self.rig.start_milter()
        self.check("pass", "secure.test", mail_from="alice@secure.test", cert="out1.secure.test")
