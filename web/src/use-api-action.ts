import { useCallback, useState } from "react";
import { ApiError } from "./api";

export interface ApiAction {
  /** A run is on its way: its button shows so and is disabled. */
  busy: boolean;
  /** Why the last run failed; null once another starts or `clear` is called. */
  error: ApiError | null;
  /**
   * Runs one action: `fn` makes the call and handles its answer (resets the form, tells the page).
   * Whatever it throws becomes `error` and goes to `onError` too, for what the refusal means here
   * (a 409: someone else changed it first). Resolves to whether `fn` succeeded: the answer itself
   * is never kept here (a new token's secret stays only where its page puts it).
   */
  run(fn: () => Promise<unknown>, onError?: (error: ApiError) => void): Promise<boolean>;
  /** Forgets the last refusal (the user starts over). */
  clear(): void;
}

/** A button's or form's call to the API: busy while it runs, and the refusal in plain words after. */
export function useApiAction(): ApiAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(async (fn: () => Promise<unknown>, onError?: (error: ApiError) => void) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      const refusal = ApiError.from(err);
      setError(refusal);
      onError?.(refusal);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setError(null), []);
  return { busy, error, run, clear };
}
