#!/usr/bin/env python3
# Two nodes on 127.0.0.1 exchange a private message through
# gi.repository.Meshara.  Prints TAP; exits 77 when GI is unavailable.
import sys

try:
    import gi
    gi.require_version('GLib', '2.0')
    gi.require_version('Meshara', '1.0')
    from gi.repository import GLib, Meshara
except (ImportError, ValueError) as e:
    print('1..0 # SKIP GObject introspection unavailable: %s' % e)
    sys.exit(77)

DEADLINE_S = 10
PAYLOAD = b'hello over introspection'

tests = []


def ok(cond, what):
    tests.append((bool(cond), what))


def main():
    alice = Meshara.Node.new(Meshara.Identity.new())
    bob = Meshara.Node.new(Meshara.Identity.new())
    for n in (alice, bob):
        n.set_listen_address('127.0.0.1:0')
        n.start()
    ok(alice.is_running() and bob.is_running(), 'both nodes running')
    ok(bob.get_port() != 0, 'bob listens on an ephemeral port')

    bob_key = bob.get_identity().get_public_key()
    alice_key = alice.get_identity().get_public_key()
    alice.add_peer('127.0.0.1:%d' % bob.get_port(), bob_key)

    loop = GLib.MainLoop()
    state = {'received': None, 'sender': None, 'delivered': None,
             'timed_out': False}

    def maybe_quit():
        if state['received'] is not None and state['delivered'] is not None:
            loop.quit()

    def on_private(node, sender, message_id, data):
        state['sender'] = sender
        state['received'] = bytes(data.get_data())
        maybe_quit()

    def on_delivered(node, message_id, latency_us):
        state['delivered'] = message_id
        maybe_quit()

    bob.connect('private-message', on_private)
    alice.connect('delivered', on_delivered)

    msg_id = alice.send_private(bob_key, PAYLOAD)
    ok(msg_id, 'send_private returned a message ID')

    def on_timeout():
        state['timed_out'] = True
        loop.quit()
        return GLib.SOURCE_REMOVE

    timer = GLib.timeout_add_seconds(DEADLINE_S, on_timeout)
    loop.run()
    if not state['timed_out']:
        GLib.source_remove(timer)

    missing = []
    if state['received'] is None:
        missing.append('bob got no "private-message"')
    if state['delivered'] is None:
        missing.append('alice got no "delivered"')
    ok(not missing, 'both signals within %d s%s' %
       (DEADLINE_S, ('' if not missing else ': ' + ', '.join(missing))))
    ok(state['received'] == PAYLOAD,
       'bob received the payload intact (got %r)' % (state['received'],))
    ok(state['sender'] == alice_key, 'sender is alice\'s public key')
    ok(state['delivered'] == msg_id,
       '"delivered" carries the sent message ID (%r vs %r)' %
       (state['delivered'], msg_id))

    alice.stop()
    bob.stop()


try:
    main()
except GLib.Error as e:
    ok(False, 'GLib.Error: %s' % e.message)

print('1..%d' % len(tests))
for i, (passed, what) in enumerate(tests, 1):
    print('%s %d - %s' % ('ok' if passed else 'not ok', i, what))
sys.exit(0 if all(p for p, _ in tests) else 1)
