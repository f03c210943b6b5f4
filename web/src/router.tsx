import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from "react";

/** A small history router: the gateway answers the app shell for each client route. */
const NAVIGATED = "portcullis:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(NAVIGATED, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(NAVIGATED, onChange);
  };
}

/** Calls `listener` after every navigation (links, back and forward); returns the unsubscribe. */
export function onNavigation(listener: () => void): () => void {
  return subscribe(listener);
}

const snapshot = () => location.pathname + location.search;

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const [path = "/", search = ""] = current.split("?");
  return { path, query: new URLSearchParams(search) };
}

/**
 * Goes to `to` in place. Focus moves to the new page's heading (keyboard and screen reader users
 * land on it), except with `keepFocus`: a navigation the user's typing made (search as you type)
 * must leave the caret where it is.
 */
export function navigate(to: string, opts: { replace?: boolean; keepFocus?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new Event(NAVIGATED));
  if (!opts.keepFocus) requestAnimationFrame(() => document.querySelector<HTMLElement>("main h1")?.focus());
}

/** A real link (keyboard, middle-click, copy address all work) that navigates in place. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; children: ReactNode }) {
  const { to, children, ...rest } = props;
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
