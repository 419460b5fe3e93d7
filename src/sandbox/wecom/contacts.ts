/**
 * Contact look-ups for identity mapping (spec §7, §10.16): `user/get` (60111 when unknown or outside
 * the visible range; the sensitive fields withheld from apps created after 2022-06-20),
 * `user/getuserid` by mobile and `user/get_userid_by_email` (46004 when not found),
 * `department/list`, `department/simplelist` and `department/get`.
 */
import { WecomApiError } from './errors.ts';
import { isWithin, visibleTo } from './seed.ts';
import type { App, Dept, Member, WecomWorld } from './state.ts';

type Json = Record<string, unknown>;

export function userGet(w: WecomWorld, app: App, userid: string | null): Json {
  if (!userid) throw new WecomApiError(60111, 'userid missing');
  const m = w.members.get(userid.toLowerCase());
  if (!m || !visibleTo(w, app, m.userid)) throw new WecomApiError(60111);
  return userJson(w, app, m);
}

export function userJson(w: WecomWorld, app: App, m: Member): Json {
  const out: Json = {
    userid: m.userid,
    name: m.name,
    department: [...m.departments],
    order: m.departments.map(() => 0),
    position: m.position,
    is_leader_in_dept: m.departments.map((d) => (m.leaderOf.includes(d) ? 1 : 0)),
    direct_leader: [...m.directLeader],
    telephone: '',
    alias: '',
    status: m.status,
    main_department: m.mainDepartment,
    // 工号 as the custom attribute a WeCom admin adds to map members to the ERP's staff numbers.
    extattr: { attrs: [{ type: 0, name: '工号', text: { value: m.staffNumber } }] },
    open_userid: `wo${Buffer.from(`${w.corpId}:${m.userid}`).toString('hex').slice(0, 30)}`,
    external_position: m.position,
    external_profile: { external_corp_name: w.corpName, external_attr: [] },
  };
  if (app.legacyContactFields) {
    // Apps created before 2022-06-20 still see these (spec §7).
    Object.assign(out, {
      mobile: m.mobile,
      gender: m.gender,
      email: m.email,
      biz_mail: '',
      avatar: '',
      thumb_avatar: '',
      address: '',
      qr_code: '',
    });
  }
  return out;
}

export function getUserIdByMobile(w: WecomWorld, app: App, body: Json): Json {
  const mobile = body.mobile;
  if (typeof mobile !== 'string' || Buffer.byteLength(mobile) < 5 || Buffer.byteLength(mobile) > 32) {
    throw new WecomApiError(40058, 'mobile must be 5 to 32 bytes');
  }
  const m = [...w.members.values()].find((x) => x.mobile === mobile.replace(/^\+86-?/, ''));
  if (!m || !visibleTo(w, app, m.userid)) throw new WecomApiError(46004);
  return { userid: m.userid };
}

export function getUserIdByEmail(w: WecomWorld, app: App, body: Json): Json {
  const email = body.email;
  if (typeof email !== 'string' || !email) throw new WecomApiError(40058, 'email is empty');
  const m = [...w.members.values()].find((x) => x.email.toLowerCase() === email.toLowerCase());
  if (!m || !visibleTo(w, app, m.userid)) throw new WecomApiError(46004);
  return { userid: m.userid };
}

function deptRoots(w: WecomWorld, app: App, idParam: string | null): Dept[] {
  if (idParam === null || idParam === '') {
    return app.visibleDepartments.map((id) => w.depts.get(id)).filter((d): d is Dept => !!d);
  }
  const id = Number(idParam);
  const d = Number.isInteger(id) ? w.depts.get(id) : undefined;
  if (!d) throw new WecomApiError(60123);
  if (!app.visibleDepartments.some((v) => isWithin(w, id, v))) throw new WecomApiError(60011);
  return [d];
}

/** The departments under the given roots (inclusive), parents before children. */
function subtree(w: WecomWorld, roots: Dept[]): Dept[] {
  const out: Dept[] = [];
  const seen = new Set<number>();
  const visit = (d: Dept) => {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    out.push(d);
    for (const c of w.depts.values()) if (c.parentId === d.id) visit(c);
  };
  for (const r of roots) visit(r);
  return out;
}

export function departmentList(w: WecomWorld, app: App, idParam: string | null): Json {
  return {
    department: subtree(w, deptRoots(w, app, idParam)).map((d) => ({
      id: d.id,
      name: d.name,
      name_en: d.nameEn,
      department_leader: [...d.leaders],
      parentid: d.parentId,
      order: d.order,
    })),
  };
}

export function departmentSimpleList(w: WecomWorld, app: App, idParam: string | null): Json {
  return {
    department_id: subtree(w, deptRoots(w, app, idParam)).map((d) => ({
      id: d.id,
      parentid: d.parentId,
      order: d.order,
    })),
  };
}

export function departmentGet(w: WecomWorld, app: App, idParam: string | null): Json {
  const [d] = deptRoots(w, app, idParam ?? '');
  if (!d || idParam === null) throw new WecomApiError(60123);
  return {
    department: {
      id: d.id,
      name: d.name,
      name_en: d.nameEn,
      department_leader: [...d.leaders],
      parentid: d.parentId,
      order: d.order,
    },
  };
}
