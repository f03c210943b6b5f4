import { useState, type FormEvent } from "react";
import { api } from "../api";
import { ActionStatus, ApiErrorNotice } from "../components/api-status";
import { UserText } from "../components/user-text";
import { formatDate } from "../format";
import { useSession } from "../session";
import type { User } from "../types";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";
import { ListFooter } from "../components/list-footer";
import { RoleRequired } from "../components/role-required";

/**
 * Disable (with an optional reason) or enable one identity: `POST /api/v1/users/{name}/disable`
 * or `/enable`. The API refuses an admin's own identity (403) and says why; the list reloads after.
 */
function UserActions({ user, onDone }: { user: User; onDone: () => void }) {
  const session = useSession();
  const [reason, setReason] = useState("");
  const { busy, error, run } = useApiAction();
  const act = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const path = `/api/v1/users/${encodeURIComponent(user.name)}/${user.disabled ? "enable" : "disable"}`;
      const body = !user.disabled && reason.trim() ? { reason: reason.trim() } : {};
      await api(path, { method: "POST", body });
      setReason("");
      onDone();
    });
  };
  if (session.me?.user === user.name) return <span className="muted">you</span>;
  return (
    <form
      className="row"
      onSubmit={(e) => void act(e)}
      aria-label={`${user.disabled ? "Enable" : "Disable"} ${user.name}`}
    >
      {!user.disabled && (
        <input
          aria-label={`Why disable ${user.name}`}
          placeholder="reason (optional)"
          maxLength={500}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
      )}
      <button type="submit" className={user.disabled ? "secondary" : "danger"} disabled={busy}>
        {user.disabled ? "Enable" : "Disable"}
      </button>
      <ActionStatus error={error} />
    </form>
  );
}

/**
 * Users and service accounts (admins): role, team, and whether each is disabled, why and by whom;
 * disabling one refuses every token it holds (offboarding), enabling gives them back.
 */
export function UsersPage() {
  const session = useSession();
  const allowed = session.can("admin");
  const list = usePagedList<User>(allowed ? "/api/v1/users?limit=100" : null);
  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <RoleRequired allowed={allowed} className="muted">
        Only administrators can see and disable users.
      </RoleRequired>
      {list.error && <ApiErrorNotice error={list.error} />}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Role</th>
                <th scope="col">Team</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((u) => (
                <tr key={u.name}>
                  <td>
                    <UserText text={u.name} />
                  </td>
                  <td>{u.kind}</td>
                  <td>{u.role}</td>
                  <td>{u.team ? <UserText text={u.team} /> : "—"}</td>
                  <td>{formatDate(u.createdAt)}</td>
                  <td>
                    {u.disabled ? (
                      <>
                        disabled {formatDate(u.disabledAt)}
                        {u.disabledBy && (
                          <>
                            {" "}
                            by <UserText text={u.disabledBy} />
                          </>
                        )}
                        {u.disabledReason && (
                          <>
                            : <UserText text={u.disabledReason} />
                          </>
                        )}
                      </>
                    ) : (
                      "active"
                    )}
                  </td>
                  <td>
                    <UserActions user={u} onDone={list.reload} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListFooter list={list} />
    </>
  );
}
