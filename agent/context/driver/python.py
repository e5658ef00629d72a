# runbox context driver for Python: one long-lived process per code context, started by the
# agent as the sandbox user (`python3 -u -`, this file on stdin). IPython's InteractiveShell
# gives the cell semantics (last-expression display, display(), rich reprs, formatted
# tracebacks, top-level await); this file only routes what it produces to the agent.
#
# Protocol (docs/contexts.md): commands arrive as JSON lines on fd 3, events leave as JSON
# lines on fd 4. Both are moved above the standard fds and made close-on-exec at start, so
# processes the user starts do not inherit them. stdout/stderr stay the real fds 1 and 2 (the
# agent reads them, so output of C code and child processes is captured too); at the end of a
# cell the driver flushes them and writes the cell's end marker to each, which tells the agent
# that everything before it belongs to that cell.
import base64
import json
import os
import signal
import sys
import threading

COMMANDS_FD, EVENTS_FD = 3, 4
BINARY_TYPES = ('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf')

commands = os.fdopen(os.dup(COMMANDS_FD), 'rb')  # os.dup: non-inheritable (PEP 446)
events_fd = os.dup(EVENTS_FD)
os.close(COMMANDS_FD)
os.close(EVENTS_FD)
send_lock = threading.Lock()


def send(event):
    line = (json.dumps(event, ensure_ascii=False, default=repr) + '\n').encode('utf-8', 'surrogateescape')
    with send_lock:
        view = memoryview(line)
        while view:
            view = view[os.write(events_fd, view):]


def fatal(message):
    send({'ev': 'fatal', 'message': message})
    sys.exit(3)


# matplotlib, once the user imports it, draws into the inline backend: figures become image/png
# results (ipykernel does the same). A backend the user chose wins.
os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')

try:
    from IPython import __version__ as ipython_version
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
except ImportError as error:
    fatal('python contexts need IPython in the sandbox (Debian: python3-ipython): %s' % error)


def mime_bundle(data):
    """A format dict as JSON: text as text, binary as base64, JSON types as values."""
    bundle = {}
    for mime, value in (data or {}).items():
        if not isinstance(mime, str):
            continue
        if mime == 'application/json' or mime.endswith('+json'):
            bundle[mime] = {'json': value}
        elif isinstance(value, (bytes, bytearray)):
            bundle[mime] = {'b64': base64.b64encode(value).decode('ascii')}
        elif mime in BINARY_TYPES and isinstance(value, str):
            bundle[mime] = {'b64': value.replace('\n', '')}  # IPython's convention: already base64
        else:
            bundle[mime] = {'text': value if isinstance(value, str) else repr(value)}
    return bundle


class State:
    seq = 0
    executing = False


class ResultHook(DisplayHook):
    """The last expression's value: the cell's main result, not an Out[n] line on stdout."""

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        send({'ev': 'display', 'seq': State.seq, 'main': True, 'data': mime_bundle(format_dict)})

    def finish_displayhook(self):
        sys.stdout.flush()


class ResultPublisher(DisplayPublisher):
    """display(...) calls, plt.show() and figures left open at the end of a cell."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        send({'ev': 'display', 'seq': State.seq, 'main': False, 'data': mime_bundle(data)})

    def clear_output(self, wait=False):
        pass


class ContextShell(InteractiveShell):
    displayhook_class = ResultHook
    display_pub_class = ResultPublisher

    def _showtraceback(self, etype, evalue, stb):
        send({
            'ev': 'error',
            'seq': State.seq,
            'name': getattr(etype, '__name__', str(etype)),
            'value': str(evalue),
            'traceback': self.InteractiveTB.stb2text(stb),
        })

    def enable_gui(self, gui=None):
        pass  # no event loop integration: there is no screen

    # `!cmd` writes straight to the real stdout/stderr (captured like any child process), not
    # through a pseudo-terminal that would turn every newline into \r\n.
    system = InteractiveShell.system_raw


def on_interrupt(signum, frame):
    # Only user code is interrupted; a SIGINT that lands between cells is dropped.
    if State.executing:
        raise KeyboardInterrupt


def flush_c_stdio():
    # printf() from C extensions sits in libc's buffer until flushed.
    try:
        import ctypes
        ctypes.CDLL(None).fflush(None)
    except Exception:
        pass


def end_cell(marker):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    flush_c_stdio()
    for fd in (1, 2):
        try:
            os.write(fd, marker)
        except OSError:
            pass  # the user closed it: the agent stops waiting for the marker after a grace period


def execute(shell, command):
    State.seq = command['seq']
    marker = command['marker'].encode('ascii')
    status, count = 'error', 0
    State.executing = True
    try:
        result = shell.run_cell(command['code'], store_history=True)
        State.executing = False
        count = result.execution_count or 0
        status = 'ok' if result.success else 'error'
    except KeyboardInterrupt:
        # Landed in IPython's own code around the cell, not in it.
        State.executing = False
        send({'ev': 'error', 'seq': State.seq, 'name': 'KeyboardInterrupt', 'value': '', 'traceback': 'KeyboardInterrupt'})
    finally:
        State.executing = False
    end_cell(marker)
    send({'ev': 'done', 'seq': State.seq, 'status': status, 'count': count})


def reseed():
    # A context cloned from a snapshot shares its parent's generator state (docs/lifecycle.md).
    import random
    random.seed()
    numpy = sys.modules.get('numpy')
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:
            pass


def main():
    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file in $HOME
    config.InteractiveShell.colors = 'NoColor'
    config.InteractiveShell.separate_in = ''
    shell = ContextShell.instance(config=config)
    signal.signal(signal.SIGINT, on_interrupt)
    send({'ev': 'ready', 'version': 'IPython %s, Python %s' % (ipython_version, sys.version.split()[0])})
    for line in commands:
        try:
            command = json.loads(line)
        except ValueError:
            fatal('unreadable command from the agent')
        op = command.get('op')
        if op == 'execute':
            execute(shell, command)
        elif op == 'reseed':
            reseed()
            send({'ev': 'reseeded'})
    # fd 3 closed: the agent is done with this context.


main()
