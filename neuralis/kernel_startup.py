"""Run inside local Python kernels at start (``IPKernelApp.exec_files``), not imported by the app.

It registers a formatter for the table-schema MIME type (``application/vnd.dataresource+json``,
what pandas emits with ``display.html.table_schema`` on) with a deferred printer for pandas
DataFrames: pandas is not imported here (a kernel starts as fast as before), nothing is
printed, no execution count or history is touched, and the user's pandas options stay as they
are (turning ``display.html.table_schema`` off disables the formatter, as pandas does for its
own). The bundle keeps its ``text/html`` and ``text/plain``, so JupyterLab shows the same table
it always did; the app draws the table-schema copy as an interactive table. It runs in the
user's namespace, so it leaves no name behind.
"""


def _neuralis_table_schema() -> None:
    import json

    from IPython.core.formatters import BaseFormatter
    from IPython.core.getipython import get_ipython
    from traitlets import ObjectName

    shell = get_ipython()  # type: ignore[no-untyped-call]
    if shell is None:
        return
    mime = "application/vnd.dataresource+json"

    class TableSchemaFormatter(BaseFormatter):  # what pandas registers, plus DataFrames
        print_method = ObjectName("_repr_data_resource_")
        _return_type = (dict,)

    def frame(df: object) -> object:
        try:
            import pandas as pd

            rows = pd.get_option("display.max_rows") or len(df)  # type: ignore[arg-type]
            data = json.loads(df.head(rows).to_json(orient="table"))  # type: ignore[attr-defined]
            meta = {"rows": len(df), "columns": len(df.columns)}  # type: ignore[arg-type,attr-defined]
        except Exception:  # MultiIndex columns, duplicate names...: the HTML table is shown
            return None
        return data, meta

    formatters = shell.display_formatter.formatters
    if mime not in formatters:
        formatters[mime] = TableSchemaFormatter()
    for module in ("pandas", "pandas.core.frame"):  # pandas 3 says "pandas", older ones the other
        formatters[mime].for_type_by_name(module, "DataFrame", frame)


_neuralis_table_schema()
del _neuralis_table_schema
