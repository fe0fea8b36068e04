"""The application's configuration object: empty until the CLI has read its settings."""


class NoSuchOptError(KeyError):
    pass


class Config:
    def __init__(self):
        self._options = {}

    def register(self, **options):
        self._options.update(options)

    def __getattr__(self, name):
        try:
            return self.__dict__["_options"][name]
        except KeyError:
            raise NoSuchOptError(f"no such option {name!r}: the application is not set up") from None


CONF = Config()
