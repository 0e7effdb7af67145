"""Local stand-ins for Microsoft (Entra ID + Defender for Endpoint API) and splunkd.

Why this package exists: neither Splunk nor Microsoft's clouds can run on the test
machines, yet the packaged modular input has to be exercised exactly as in production:
launched like splunkd launches it, talking TLS to Microsoft's documented hostnames and
to splunkd's REST API through solnlib/splunklib. These stand-ins follow the vendors'
documented contracts, including errors, limits and awkward corners (FACTS.md 1-4, 7).

Modules
    tls            throwaway CA + one server certificate for every Microsoft host
    hostmap/       ``sitecustomize`` that sends those hostnames to 127.0.0.1 in a child
    microsoft      Entra ID token endpoint + ``GET /api/alerts`` (OData, 429, faults)
    alerts_factory realistic alerts cloned from the public samples (ties, 7 digits)
    splunkd        configs/conf-*, properties, storage/passwords, KV store, server/info
    launcher       start both; ``run_modinput`` / ``run_modinput_async``; stream parser
    splunkd_data   splunkd's data/inputs/<scheme> (with external validation) and data/indexes
    splunkd_handlers  the app's own UCC REST handlers (restmap.conf) mounted on splunkd
    rest_worker, admin_shim/  the handler process and the ``splunk.admin`` it imports
    splunkd_search the one search the UCC pages' footer runs
    splunkweb      Splunk Web for the app's UCC pages: views, $C, static files, __raw proxy
    ui_stack       all of the above for one app (browser tests, ``make demo-ui``)
    timefmt        100 ns ticks <-> Defender's timestamp text

Typical use::

    with StandinStack(app_default_dir=app / "default") as stack:
        t = stack.microsoft.add_tenant()
        a = stack.microsoft.add_app(t.tenant_id, secret="pw")
        stack.microsoft.add_alerts(t.tenant_id, AlertFactory(1, t.tenant_id).alerts(5000))
        stack.splunkd.seed_account("acct", t.tenant_id, a.client_id, client_secret="pw")
        result = stack.run_modinput(app, {"prod": {"account": "acct"}}, python=py39)
        assert len(result.events) == 5000

Everything listens on 127.0.0.1 only.
"""
