import { useState } from "react";
import { ApiError, download } from "../api";
import { ApiErrorNotice } from "./api-status";

/**
 * Downloads with the session's token (a plain link could not carry it); `paged`: an export that
 * comes in pages (`x-next-cursor`), all of which are fetched and saved as one file.
 */
export function DownloadButton(props: { path: string; filename: string; paged?: boolean; children: string }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const onClick = async () => {
    setBusy(true);
    setError(null);
    try {
      await download(props.path, props.filename, { paged: props.paged ?? false });
    } catch (err) {
      setError(ApiError.from(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="download">
      <button type="button" className="secondary" onClick={() => void onClick()} disabled={busy}>
        {busy ? "Downloading…" : props.children}
      </button>
      {error && <ApiErrorNotice error={error} />}
    </span>
  );
}
