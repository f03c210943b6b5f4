import type { PagedList } from "../use-paged-list";

/**
 * The end of a cursor-paged list: "Loading…" while a page is on its way, then "Load more" while
 * the list has further pages.
 */
export function ListFooter({ list }: { list: Pick<PagedList<unknown>, "loading" | "hasMore" | "loadMore"> }) {
  return (
    <>
      {list.loading && <p role="status">Loading…</p>}
      {list.hasMore && !list.loading && (
        <button type="button" className="secondary" onClick={list.loadMore}>
          Load more
        </button>
      )}
    </>
  );
}
