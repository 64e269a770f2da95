// The Roles tab: the role-mapping rules (the most privileged matching rule wins), the default
// role, resource groups and the gateway's access rules (first match wins). Each rule is a
// fieldset row with its own inputs; an API error naming `role_mapping[2].role` lands in row 3.

import { clearErrors, el, field, roleSelect, uid, words } from './api.js';

/** A fieldset row of `list` (`name[i]`) with a Remove button and a row-level error line. */
function row(list, name, legend, build) {
  const set = el('fieldset', { className: 'rule' });
  const legendEl = el('legend', {});
  const body = el('div', { className: 'rule-fields' });
  const err = el('p', { className: 'field-error', id: uid('err'), hidden: true });
  const remove = el('button', { type: 'button', className: 'secondary remove' }, 'Remove');
  set.append(legendEl, body, err, remove);
  set.body = body;
  set.legendEl = legendEl;
  remove.addEventListener('click', () => {
    const next = set.nextElementSibling || set.previousElementSibling;
    // The list sits in its error box, followed by the row holding its Add button.
    const add = list.parentElement.nextElementSibling;
    set.remove();
    renumber(list, name, legend);
    const focus = next ? next.querySelector('input, select') : add && add.querySelector('.add');
    if (focus) focus.focus();
  });
  build(set);
  list.append(set);
  renumber(list, name, legend);
  return set;
}

/** Keeps legends ("Rule 2") and data-field paths (`role_mapping[1].role`) in step with order. */
function renumber(list, name, legend) {
  [...list.children].forEach((set, i) => {
    set.legendEl.textContent = legend + ' ' + (i + 1);
    set.dataset.field = name + '[' + i + ']';
    for (const input of set.querySelectorAll('[data-key]')) {
      input.dataset.field = name + '[' + i + '].' + input.dataset.key;
    }
    set.querySelector('.remove').setAttribute('aria-label', 'Remove ' + legend.toLowerCase() + ' ' + (i + 1));
  });
}

/** A labelled input inside a row, its data-field filled in by renumber. */
function cell(set, label, input, key) {
  input.dataset.key = key;
  const f = field(label, input);
  // The row has one error line; the field's own is for field-level messages.
  set.body.append(f);
  return input;
}

const text = (value, props) => el('input', Object.assign({ type: 'text', autocomplete: 'off', spellcheck: false, value: value || '' }, props));

/** Builds the Roles tab into `panel`. */
export function rolesPanel(panel, ctx) {
  const cfg = ctx.config() || {};
  const form = el('form', { className: 'stack', noValidate: true });

  // Role mapping.
  const mapping = el('div', { className: 'rules', dataset: { field: 'role_mapping' } });
  const addRule = (r) => row(mapping, 'role_mapping', 'Rule', (set) => {
    const kind = el('select', {}, el('option', { value: 'claim' }, 'ID-token claim'), el('option', { value: 'scim_group' }, 'SCIM group'));
    kind.value = r.scim_group !== undefined ? 'scim_group' : 'claim';
    const f = field('Match on', kind);
    set.body.append(f);
    const claim = cell(set, 'Claim', text(r.claim, { placeholder: 'groups' }), 'claim');
    const value = cell(set, 'Value', text(r.scim_group !== undefined ? r.scim_group : r.value, { placeholder: 'hub-admins' }), 'value');
    const sync = () => {
      const scim = kind.value === 'scim_group';
      claim.closest('.field').hidden = scim;
      value.dataset.key = scim ? 'scim_group' : 'value';
      value.closest('.field').querySelector('label').textContent = scim ? 'SCIM group' : 'Value';
      renumber(mapping, 'role_mapping', 'Rule');
    };
    kind.addEventListener('change', sync);
    cell(set, 'Role', roleSelect(r.role || 'read'), 'role');
    cell(set, 'Resource group', text(r.resource_group, { placeholder: 'optional' }), 'resource_group');
    set.kind = kind;
    queueMicrotask(sync);
  });
  for (const r of cfg.role_mapping || []) addRule(r);
  const defaultRole = roleSelect(cfg.default_role || '', 'No role: deny');
  form.append(
    el('h3', {}, 'Role mapping'),
    el('p', { className: 'hint' }, 'Each rule gives a role to members whose ID token has the claim with that value (the claim is that string, or a list holding it), or who are in that SCIM group. When several rules match, the most privileged role wins: read < contributor < write < admin. The order of the rules does not matter. A rule with a resource group grants its role only within that group\'s paths.'),
    mapping,
    el('div', { className: 'row' }, el('button', { type: 'button', className: 'secondary add', onclick: () => { addRule({}); mapping.lastElementChild.querySelector('select').focus(); } }, 'Add rule')),
    field('Role of members no rule matches', defaultRole, { name: 'default_role' }),
  );
  wrapErrors(mapping);

  // Resource groups.
  const groups = el('div', { className: 'rules', dataset: { field: 'resource_groups' } });
  const addGroup = (g) => row(groups, 'resource_groups', 'Group', (set) => {
    cell(set, 'Name', text(g.name, { placeholder: 'datasets' }), 'name');
    cell(set, 'Paths', text((g.paths || []).join(' '), { placeholder: 'datasets/**' }), 'paths');
  });
  for (const g of cfg.resource_groups || []) addGroup(g);
  form.append(
    el('h3', {}, 'Resource groups'),
    el('p', { className: 'hint' }, 'Named sets of paths under /orgs/' + (ctx.slug || '{slug}') + '/, separated by spaces; ** matches any rest of the path.'),
    groups,
    el('div', { className: 'row' }, el('button', { type: 'button', className: 'secondary add', onclick: () => { addGroup({}); groups.lastElementChild.querySelector('input').focus(); } }, 'Add group')),
  );
  wrapErrors(groups);

  // Access rules.
  const access = el('div', { className: 'rules', dataset: { field: 'access_rules' } });
  const addAccess = (a) => row(access, 'access_rules', 'Access rule', (set) => {
    cell(set, 'Path', text(a.path, { placeholder: 'settings/**' }), 'path');
    cell(set, 'Methods', text((a.methods || []).join(' '), { placeholder: 'all' }), 'methods');
    cell(set, 'Role', roleSelect(a.role || 'read'), 'role');
  });
  for (const a of cfg.access_rules || []) addAccess(a);
  form.append(
    el('h3', {}, 'Access rules'),
    el('p', { className: 'hint' }, 'The gateway checks these in order and the first matching rule decides the role a request needs. Methods are separated by spaces; empty means every method.'),
    access,
    el('div', { className: 'row' }, el('button', { type: 'button', className: 'secondary add', onclick: () => { addAccess({}); access.lastElementChild.querySelector('input').focus(); } }, 'Add access rule')),
  );
  wrapErrors(access);

  const submit = el('button', { type: 'submit' }, 'Save roles');
  form.append(el('div', { className: 'row' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(panel);
    const val = (set, key) => {
      const i = set.querySelector('[data-key="' + key + '"]');
      return i ? i.value.trim() : '';
    };
    const role_mapping = [...mapping.children].map((set) => {
      const r = set.kind.value === 'scim_group'
        ? { scim_group: val(set, 'scim_group') }
        : { claim: val(set, 'claim'), value: val(set, 'value') };
      r.role = val(set, 'role');
      const rg = val(set, 'resource_group');
      if (rg) r.resource_group = rg;
      return r;
    });
    const resource_groups = [...groups.children].map((set) => ({ name: val(set, 'name'), paths: words(val(set, 'paths')) }));
    const access_rules = [...access.children].map((set) => {
      const a = { path: val(set, 'path'), role: val(set, 'role') };
      const methods = words(val(set, 'methods')).map((m) => m.toUpperCase());
      if (methods.length) a.methods = methods;
      return a;
    });
    submit.disabled = true;
    await ctx.save({ role_mapping, default_role: defaultRole.value || null, resource_groups, access_rules }, panel);
    submit.disabled = false;
  });
  panel.append(form);
}

/** Puts a list's own error line (for `role_mapping` itself) inside a .field box around it. */
function wrapErrors(list) {
  const box = el('div', { className: 'field' });
  list.replaceWith(box);
  box.append(list, el('p', { className: 'field-error', hidden: true }));
}
