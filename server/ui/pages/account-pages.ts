import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../auth/policy.ts';
import { contextOf } from '../../http/context.ts';
import { changeOwnPassword } from '../../users/users.ts';
import { html, roleNames } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, noErrors, page, type FormErrors } from '../layout.ts';

/** Every user's own account: who they are, and their password. */
export function accountPages(db: Knex) {
  function account(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'auth.password');
    const a = req.actor!;
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '我的账号',
        html`<p>${a.username}（${roleNames[a.role]}）</p>
<h2>修改密码</h2><form method="post" action="/account/password">${csrfField(req)}${generalError(errors)}
<label>当前密码 <input type="password" name="current_password" autocomplete="current-password" required></label>${fieldError(errors, 'current_password')}
<label>新密码（至少 10 位，不能全为数字，不能与用户名相同） <input type="password" name="new_password" autocomplete="new-password" required></label>${fieldError(errors, 'password')}
<p><button>修改</button> <span class="muted">修改后，您在其他地方的登录将失效。</span></p></form>`,
        { notice },
      ),
    );
  }
  return {
    account: (req: Request, res: Response) => account(req, res),
    async changePassword(req: Request, res: Response) {
      authorize(req.actor, 'auth.password');
      const b = formFields(req);
      try {
        await changeOwnPassword(db, contextOf(req), b.current_password ?? '', b.new_password ?? '');
        account(req, res, noErrors, '密码已修改。');
      } catch (e) {
        account(req, res, formErrors(e));
      }
    },
  };
}
