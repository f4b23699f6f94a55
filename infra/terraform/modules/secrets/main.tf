# The de-identification HMAC key. Terraform creates only the (KMS-encrypted) container and a resource
# policy; the value is put out of band so it never appears in plans or state:
#
#   aws secretsmanager put-secret-value --secret-id <name_prefix>/deid/hmac-key \
#     --secret-string "$(openssl rand -hex 32)"
#
# No automatic rotation: the key determines every pseudonym in silver/ and gold/; rotating it would
# silently break linkage across snapshots. Rotation is a planned re-pseudonymisation (see README).

resource "aws_secretsmanager_secret" "deid_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the HMAC key changes every pseudonym and breaks longitudinal linkage; rotation is a planned re-pseudonymisation, never automatic.
  name                    = "${var.name_prefix}/deid/hmac-key"
  description             = "HMAC key used by de-identification to derive stable pseudonyms (value set out of band)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = { DataClassification = "secret-key-material" }
}

# Only the listed roles may read the value, whatever their IAM policies say (defence in depth against
# broad admin policies). Changing this policy is itself a CloudTrail management event.
data "aws_iam_policy_document" "deid_key" {
  statement {
    sid       = "DenyReadExceptDeidReaders"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalArn"
      values   = var.reader_role_arns
    }
  }
}

resource "aws_secretsmanager_secret_policy" "deid_key" {
  secret_arn          = aws_secretsmanager_secret.deid_key.arn
  policy              = data.aws_iam_policy_document.deid_key.json
  block_public_policy = true
}
