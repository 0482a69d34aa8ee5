"""The exporter's HTTP side: ``/metrics``, ``/healthz``, ``/ready`` and a landing page.

One module per job: :mod:`~exporter.web.config` reads ``--web.config.file``,
:mod:`~exporter.web.tls` builds and reloads TLS contexts, :mod:`~exporter.web.auth`
checks incoming basic auth, :mod:`~exporter.web.app` answers requests,
:mod:`~exporter.web.server` serves them and :mod:`~exporter.web.logs` formats log lines.

:class:`~exporter.web.app.ExporterApp` answers requests without any socket (so it is tested
directly); :class:`~exporter.web.server.ExporterServer` is a threaded stdlib HTTP server in front of
it.  ``/metrics`` negotiates the exposition format and gzip exactly as
``prometheus_client`` does (it reuses ``choose_encoder`` and
``gzip_accepted``); the rendered bytes are kept per snapshot, so fifty
scrapers reading the same snapshot cost one rendering.

``--web.listen-address`` is ``host:port``, ``:port`` (every interface) or
``[v6addr]:port``; the server binds exactly that.  ``--web.config.file`` reads
the Prometheus exporter-toolkit format::

    tls_server_config:
      cert_file: server.crt          # or cert: inline PEM
      key_file: server.key           # or key: inline PEM
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: clients-ca.crt                 # optional
      min_version: TLS12
    http_server_config:
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      prometheus: $2b$10$...           # bcrypt hash, never a password

Relative paths are relative to the web config file.  Certificates are
reloaded when their files change, so a rotated certificate needs no restart.
Settings of that format this exporter cannot honour are refused by name
(see :mod:`~exporter.web.config`).
"""
