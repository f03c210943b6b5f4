import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, withQuery, type Page } from "./api";

export interface PagedList<T> {
  items: T[];
  error: ApiError | undefined;
  loading: boolean;
  /** More pages exist: `loadMore` fetches the next one (cursor pagination). */
  hasMore: boolean;
  loadMore(): void;
  reload(): void;
}

interface ListState<T> {
  items: T[];
  next: string | null;
  error?: ApiError;
  loading: boolean;
}

/** One run of the list: a path, from its first page on. A new path or a reload starts another. */
interface Query {
  path: string;
  ctrl: AbortController;
}

/**
 * A cursor-paged list route (`{items, next}`); a new `path` starts over. Every answer is checked
 * against the query it was asked for: a late page of a query since replaced (the filter changed
 * while "Load more" was on its way) is dropped, never appended, and its cursor never kept.
 */
export function usePagedList<T>(path: string | null): PagedList<T> {
  const [state, setState] = useState<ListState<T>>({ items: [], next: null, loading: !!path });
  const [tick, setTick] = useState(0);
  const current = useRef<Query | null>(null);

  const fetchPage = useCallback(async (query: Query, cursor: string | null) => {
    const live = () => current.current === query && !query.ctrl.signal.aborted;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    try {
      const [base = "", qs = ""] = query.path.split("?");
      const params = Object.fromEntries(new URLSearchParams(qs));
      const page = await api<Page<T>>(withQuery(base, { ...params, cursor }), { signal: query.ctrl.signal });
      if (!live()) return;
      setState((s) => ({
        items: cursor ? [...s.items, ...page.items] : page.items,
        next: page.next ?? null,
        loading: false,
      }));
    } catch (err) {
      if (!live()) return;
      const error = ApiError.from(err);
      setState((s) => ({ ...s, error, loading: false }));
    }
  }, []);

  useEffect(() => {
    if (!path) {
      current.current = null;
      setState({ items: [], next: null, loading: false });
      return;
    }
    const query: Query = { path, ctrl: new AbortController() };
    current.current = query;
    setState({ items: [], next: null, loading: true });
    void fetchPage(query, null);
    return () => {
      query.ctrl.abort();
      if (current.current === query) current.current = null;
    };
  }, [path, tick, fetchPage]);

  const { next, loading } = state;
  const loadMore = useCallback(() => {
    const query = current.current;
    if (query && next && !loading) void fetchPage(query, next);
  }, [next, loading, fetchPage]);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  return { items: state.items, error: state.error, loading, hasMore: next !== null, loadMore, reload };
}
