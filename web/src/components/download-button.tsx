import { download } from "../api";
import { useApiAction } from "../use-api-action";
import { ActionStatus } from "./api-status";

/**
 * Downloads with the session's token (a plain link could not carry it); `paged`: an export that
 * comes in pages (`x-next-cursor`), all of which are fetched and saved as one file.
 */
export function DownloadButton(props: { path: string; filename: string; paged?: boolean; children: string }) {
  const { busy, error, run } = useApiAction();
  const onClick = () => run(() => download(props.path, props.filename, { paged: props.paged ?? false }));
  return (
    <span className="download">
      <button type="button" className="secondary" onClick={() => void onClick()} disabled={busy}>
        {busy ? "Downloading…" : props.children}
      </button>
      <ActionStatus error={error} />
    </span>
  );
}
