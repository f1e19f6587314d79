"""quire: scans of music and text documents to PageXML, **kern, MusicXML and MIDI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("quire")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
