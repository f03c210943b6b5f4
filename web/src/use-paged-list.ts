import { useCallback, useEffect, useState } from "react";
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

/** A cursor-paged list route (`{items, next}`); a new `path` starts over. */
export function usePagedList<T>(path: string | null): PagedList<T> {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);

  const fetchPage = useCallback(
    async (cursor: string | null, signal?: AbortSignal) => {
      if (!path) return;
      setLoading(true);
      setError(undefined);
      try {
        const [base, qs = ""] = path.split("?");
        const query = Object.fromEntries(new URLSearchParams(qs));
        const page = await api<Page<T>>(
          withQuery(base ?? "", { ...query, cursor }),
          signal ? { signal } : {},
        );
        setItems((old) => (cursor ? [...old, ...page.items] : page.items));
        setNext(page.next ?? null);
      } catch (err) {
        if (signal?.aborted) return;
        setError(err instanceof ApiError ? err : new ApiError(0, "NETWORK", (err as Error).message));
      } finally {
        if (!signal?.aborted) setLoading(false);
      }
    },
    [path],
  );

  useEffect(() => {
    const ctrl = new AbortController();
    setItems([]);
    setNext(null);
    void fetchPage(null, ctrl.signal);
    return () => ctrl.abort();
  }, [fetchPage, tick]);

  return {
    items,
    error,
    loading,
    hasMore: next !== null,
    loadMore: () => void fetchPage(next),
    reload: () => setTick((t) => t + 1),
  };
}
