/**
 * User lookup (spec §12): `/topapi/v2/user/get` and `/topapi/v2/user/getbymobile`, seeded from the
 * shared company so `job_number` is the Kingdee staff number and mobiles match the other sandboxes.
 * Optional fields are omitted when empty or when the app lacks the permission (§12.1).
 */
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import { isObject, oapiError, oapiOk, parseNewBody, parseOldBody } from './http-util.ts';
import type { SandboxUser } from './seed.ts';

export interface UsersState {
  /** Whether the app holds the "read mobile" permission (otherwise `mobile` is omitted). */
  mobilePermission: boolean;
}

export function createUsers(ctx: SandboxContext): UsersState {
  const state: UsersState = { mobilePermission: true };

  route(ctx.routes.oapi, 'POST', '/topapi/v2/user/get', (req) => {
    const body = parseOldBody(req);
    if (!body) return oapiError(400002, '无效的参数');
    const userid = body.userid;
    if (typeof userid !== 'string' || !userid.trim()) return oapiError(400002, '无效的参数: userid');
    if (!/^[A-Za-z0-9_$\-.]+$/.test(userid)) return oapiError(33012, '无效的USERID');
    const user = ctx.userById(userid);
    if (!user) return oapiError(60121, '找不到该用户');
    return oapiOk({ result: userView(ctx, user, state) });
  });

  route(ctx.routes.oapi, 'POST', '/topapi/v2/user/getbymobile', (req) => {
    const body = parseOldBody(req);
    if (!body) return oapiError(400002, '无效的参数');
    const mobile =
      typeof body.mobile === 'string' || typeof body.mobile === 'number' ? String(body.mobile) : '';
    if (!/^(\+?86-?)?1\d{10}$/.test(mobile)) return oapiError(40104, '无效的手机号');
    const bare = mobile.replace(/^(\+?86-?)/, '');
    // Only active employees are found (spec §12.2).
    const user = ctx.users.find((u) => u.mobile === bare && u.active);
    if (!user) return oapiError(60121, '找不到该用户');
    return oapiOk({ result: { userid: user.userid } });
  });

  admin(ctx, 'GET', /^\/__sandbox\/users$/, () => ok({ users: ctx.users, departments: ctx.departments }));
  admin(ctx, 'POST', /^\/__sandbox\/users\/permissions$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    if (typeof body.mobile === 'boolean') state.mobilePermission = body.mobile;
    return ok(state);
  });
  // Acts as the org admin: e.g. `{"active": false}` makes a user resigned.
  admin(ctx, 'POST', /^\/__sandbox\/users\/([^/]+)$/, (req, [userid]) => {
    const user = ctx.userById(decodeURIComponent(userid));
    if (!user) return bad('no such user', 404);
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    if (typeof body.active === 'boolean') user.active = body.active;
    if (typeof body.title === 'string') user.title = body.title;
    return ok(user);
  });
  return state;
}

function userView(ctx: SandboxContext, u: SandboxUser, s: UsersState) {
  return {
    userid: u.userid,
    unionid: u.unionid,
    name: u.name,
    state_code: '86',
    ...(s.mobilePermission ? { mobile: u.mobile } : {}),
    hide_mobile: false,
    telephone: '',
    job_number: u.jobNumber,
    title: u.title,
    email: u.email,
    dept_id_list: u.deptIds,
    dept_order_list: u.deptIds.map((d, i) => ({ dept_id: d, order: 176_000_000_000 + i })),
    leader_in_dept: u.deptIds.map((d) => ({ dept_id: d, leader: u.leaderOf.includes(d) })),
    ...(u.managerUserid ? { manager_userid: u.managerUserid } : {}),
    hired_date: u.hiredDate,
    active: u.active,
    admin: u.admin,
    boss: u.boss,
    senior: false,
    real_authed: true,
    exclusive_account: false,
    role_list: u.boss ? [{ id: 1, name: '主管理员', group_name: '默认' }] : [],
    extension: JSON.stringify({ 公司: ctx.app.corpId }),
  };
}
